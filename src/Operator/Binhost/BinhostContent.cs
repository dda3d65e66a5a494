using System.Collections.Concurrent;
using System.Text;
using Gentoo.Portage.Binhost;
using Gentoo.Portage.Kernels;

namespace Gentoo.Operator.Binhost;

/// <summary>The Packages index as served: its bytes, an entity tag and when it last changed.</summary>
public sealed record ServedIndex(byte[] Content, string ETag, DateTimeOffset LastModified);

/// <summary>A package that needs a newer kernel than asked about.</summary>
public sealed record KernelMismatch(string Cpv, string Path, string Requires, string? File);

/// <summary>
/// What a binhost serves from a PKGDIR: the Packages index, rebuilt whenever a package file was added, replaced or
/// removed (never stale, never rebuilt for nothing), each package's kernel requirement from its ELF notes (cached by
/// file identity), and files resolved so that nothing outside the PKGDIR is ever reachable.
/// </summary>
public sealed class BinhostContent(string pkgdir, TimeProvider clock)
{
    private readonly string root = Path.GetFullPath(pkgdir).TrimEnd('/');
    private readonly Lock gate = new();
    private readonly ConcurrentDictionary<(string Path, long Size, DateTime Modified), PackageKernel> kernels = new();
    private string? fingerprint;
    private ServedIndex? index;

    public string Root => root;

    public ServedIndex Index()
    {
        var current = Fingerprint();
        lock (gate)
        {
            if (index is not null && current == fingerprint)
            {
                return index;
            }

            var previous = File.Exists(Path.Combine(root, "Packages")) ? SafeParse(Path.Combine(root, "Packages")) : null;
            var text = PackagesIndexBuilder.Build(root, previous, clock.GetUtcNow()).ToString();
            var bytes = Encoding.UTF8.GetBytes(text);
            index = new ServedIndex(bytes, "\"" + Desired.Digest.Of(current, 32) + "\"", clock.GetUtcNow());
            fingerprint = current;
            return index;
        }
    }

    /// <summary>Every package whose binaries need a kernel newer than <paramref name="kernel"/>.</summary>
    public IReadOnlyList<KernelMismatch> NotRunningOn(KernelVersion kernel)
    {
        var result = new List<KernelMismatch>();
        foreach (var path in Directory.EnumerateFiles(root, "*.gpkg.tar", SearchOption.AllDirectories))
        {
            var info = new FileInfo(path);
            PackageKernel requirement;
            try
            {
                requirement = kernels.GetOrAdd((path, info.Length, info.LastWriteTimeUtc), key => PackageKernels.Of(key.Path));
            }
            catch (Exception e) when (e is InvalidDataException or IOException or FormatException)
            {
                continue; // half-written: the next request sees it whole
            }

            if (requirement.Required is { } required && required.CompareTo(kernel) > 0)
            {
                var cpv = Gpkg.Read(path).Cpv ?? Path.GetFileName(path);
                result.Add(new KernelMismatch(cpv, Path.GetRelativePath(root, path), required.ToString(), requirement.File));
            }
        }

        return [.. result.OrderBy(m => m.Cpv, StringComparer.Ordinal)];
    }

    /// <summary>
    /// The file a request path names, or null when it names nothing servable: a missing file, a directory, a hidden
    /// entry, "." or ".." segments, anything whose real location (after symlinks) lies outside the PKGDIR, or a
    /// Packages file on disk (the generated, current index is served in its place).
    /// </summary>
    public FileInfo? Resolve(string requestPath)
    {
        var relative = requestPath.TrimStart('/');
        if (relative.Length == 0 || relative.Contains('\\') || relative.Contains('\0'))
        {
            return null;
        }

        var segments = relative.Split('/');
        if (segments.Any(s => s.Length == 0 || s == "." || s == ".." || s.StartsWith('.'))
            || (segments.Length == 1 && segments[0].StartsWith("Packages", StringComparison.Ordinal)))
        {
            return null;
        }

        var full = Path.GetFullPath(Path.Combine(root, relative));
        if (!full.StartsWith(root + "/", StringComparison.Ordinal) || !File.Exists(full))
        {
            return null;
        }

        // Every component must stay inside once links are followed: a link out of the PKGDIR serves nothing.
        var real = RealPath(full);
        var realRoot = RealPath(root);
        return real is not null && realRoot is not null && real.StartsWith(realRoot + "/", StringComparison.Ordinal) ? new FileInfo(real) : null;
    }

    private static string? RealPath(string path)
    {
        var parts = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        var current = "/";
        for (var i = 0; i < parts.Length; i++)
        {
            var next = Path.Combine(current, parts[i]);
            FileSystemInfo info = Directory.Exists(next) ? new DirectoryInfo(next) : new FileInfo(next);
            if (info.LinkTarget is not null)
            {
                var target = info.ResolveLinkTarget(returnFinalTarget: true);
                if (target is null || !target.Exists)
                {
                    return null;
                }

                next = target.FullName;
            }

            current = next;
        }

        return current;
    }

    /// <summary>Which package files exist, how big and how new: the index is rebuilt exactly when this changes.</summary>
    private string Fingerprint()
    {
        var text = new StringBuilder();
        foreach (var path in Directory.EnumerateFiles(root, "*.gpkg.tar", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            var info = new FileInfo(path);
            text.Append(path).Append('\0').Append(info.Length).Append('\0').Append(info.LastWriteTimeUtc.Ticks).Append('\n');
        }

        return text.ToString();
    }

    private static PackagesIndex? SafeParse(string path)
    {
        try
        {
            return PackagesIndex.Parse(File.ReadAllText(path));
        }
        catch (Exception e) when (e is IOException or FormatException or InvalidDataException)
        {
            return null;
        }
    }
}
