using Gentoo.Runtime;
using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using Gentoo.Portage.Binhost;
using Gentoo.Portage.Kernels;

namespace Gentoo.Binhost;

/// <summary>
/// A file a request path names. A small one is kept whole (<paramref name="Content"/>, with its entity tag and time)
/// while the PKGDIR stays unchanged, so that serving it again touches no file; null otherwise.
/// </summary>
public sealed record ServedFile(FileInfo File, KeptFile? Content);

/// <summary>A small package file's bytes and the headers that describe them, as read together.</summary>
public sealed record KeptFile(byte[] Bytes, string ETag, string LastModified);

/// <summary>The Packages index as served: its bytes, the index itself, an entity tag and when it last changed.</summary>
public sealed record ServedIndex(byte[] Content, PackagesIndex Parsed, string ETag, DateTimeOffset LastModified);

/// <summary>A package and the kernel its ELF files need (null: no Linux ABI tag in it), with the file that needs it.</summary>
public sealed record PackageKernelRequirement(string Cpv, string Path, string? Requires, string? File);

/// <summary>
/// What a binhost serves from a PKGDIR: the Packages index, rebuilt whenever a package file was added, replaced or
/// removed (never stale, never rebuilt for nothing, reading only the packages that changed), each package's kernel
/// requirement from its ELF notes (kept per file identity), and files resolved so that nothing outside the PKGDIR is
/// ever reachable. The served index is kept until the PKGDIR changes (<see cref="TreeChanges"/>); where changes cannot
/// be watched, concurrent requests share one look at the PKGDIR begun after they arrived.
/// </summary>
public sealed class BinhostContent : IDisposable
{
    private readonly string root;
    private readonly TimeProvider clock;
    private readonly IncrementalPackagesIndex packages;
    private readonly SharedRefresh<Snapshot> refresh;
    private readonly ConcurrentDictionary<PackageFile, PackageKernel> kernels = new();
    private readonly ConcurrentDictionary<string, byte> reported = new(StringComparer.Ordinal);
    private readonly Action<string> warn;
    private readonly TreeChanges changes;
    private Snapshot? last;
    private Served? served;
    private Resolutions? resolutions;

    /// <param name="pkgdir">The PKGDIR served.</param>
    /// <param name="clock">The time the index carries.</param>
    /// <param name="warn">Told, once per path, of what the PKGDIR holds that cannot be served (unreadable, a link).</param>
    public BinhostContent(string pkgdir, TimeProvider clock, Action<string>? warn = null)
    {
        root = Path.GetFullPath(pkgdir).TrimEnd('/');
        this.clock = clock;
        this.warn = warn ?? (_ => { });
        packages = new IncrementalPackagesIndex(root);
        refresh = new SharedRefresh<Snapshot>(Refresh);
        Releases = new ServedReleases(root);
        changes = new TreeChanges(root);
    }

    /// <summary>Why every request looks at the PKGDIR again (null when changes are watched).</summary>
    public string? Unwatched => changes.Reason;

    /// <summary>The releases recorded on the PKGDIR, which decide what /Packages serves once there is one.</summary>
    public ServedReleases Releases { get; }

    private sealed record Snapshot(IReadOnlyList<PackageFile> Files, ServedIndex Index);

    /// <summary>The index served while the PKGDIR stays as it was at <see cref="Generation"/>.</summary>
    private sealed record Served(long Generation, ServedIndex Index);

    /// <summary>Request paths found to name a servable file while the PKGDIR stays as it was at <see cref="Generation"/>.</summary>
    private sealed record Resolutions(long Generation, ConcurrentDictionary<string, ServedFile> Files)
    {
        public long KeptBytes;
    }

    // Only paths that name a package are kept, and only so many: made-up paths cannot grow the memory.
    private const int MaxResolutions = 16384;

    // Files up to this size are kept whole (Portage's small packages: metadata, fonts, scripts), up to KeptBytesLimit in all.
    private const int KeptFileLimit = 64 * 1024;
    private const long KeptBytesLimit = 32L * 1024 * 1024;

    public string Root => root;

    /// <summary>How many package files were read to index them: each once per version of the file.</summary>
    public long PackagesRead => packages.PackagesRead;

    /// <summary>
    /// The index clients get at /Packages: the published release's once releases exist (a run's half-finished work is
    /// never in it), else the whole PKGDIR's, always current.
    /// </summary>
    public async ValueTask<ServedIndex> IndexAsync()
    {
        // The number is taken before anything is read: a change while the index is made moves it again.
        var generation = changes.Current();
        if (served is { } kept && kept.Generation == generation)
        {
            return kept.Index;
        }

        var index = Releases.PublishedIndex() ?? (await refresh.GetAsync()).Index;
        served = new Served(generation, index);
        return index;
    }

    public void Dispose() => changes.Dispose();

    /// <summary>
    /// Every package with the kernel it needs, in CPV order; with <paramref name="notRunningOn"/>, only those whose
    /// binaries need a newer kernel than that.
    /// </summary>
    public async Task<IReadOnlyList<PackageKernelRequirement>> KernelRequirementsAsync(KernelVersion? notRunningOn = null)
    {
        var files = (await refresh.GetAsync()).Files;
        if (Releases.PublishedIndex()?.Parsed is { } published)
        {
            // What clients install is the published release: the rest of the PKGDIR is not theirs to worry about.
            var served = published.Packages.Select(p => p["PATH"]).OfType<string>().Select(p => Path.Combine(root, p)).ToHashSet(StringComparer.Ordinal);
            files = [.. files.Where(f => served.Contains(f.Path))];
        }

        var result = new List<PackageKernelRequirement>();
        foreach (var file in files)
        {
            PackageKernel requirement;
            try
            {
                requirement = kernels.GetOrAdd(file, f => PackageKernels.Of(f.Path));
            }
            catch (Exception e) when (e is InvalidDataException or IOException or FormatException or UnauthorizedAccessException)
            {
                continue; // half-written (the next request sees it whole) or unreadable (said once when indexed)
            }

            var runs = notRunningOn is { } kernel && !(requirement.Required is { } required && required.CompareTo(kernel) > 0);
            if (!runs && packages.CpvOf(file.Path) is { } cpv)
            {
                result.Add(new PackageKernelRequirement(cpv, Path.GetRelativePath(root, file.Path), requirement.Required?.ToString(), requirement.File));
            }
        }

        // Replaced and removed packages are forgotten.
        var current = files.ToHashSet();
        foreach (var gone in kernels.Keys.Where(k => !current.Contains(k)))
        {
            kernels.TryRemove(gone, out _);
        }

        return [.. result.OrderBy(r => r.Cpv, StringComparer.Ordinal).ThenBy(r => r.Path, StringComparer.Ordinal)];
    }

    /// <summary>One look at the PKGDIR (a stat per package); the index is rebuilt only when what it saw changed.</summary>
    private Snapshot Refresh()
    {
        var files = PackageFile.Scan(root, Skipped);
        if (last is { } unchanged && unchanged.Files.SequenceEqual(files))
        {
            return unchanged;
        }

        var previous = File.Exists(Path.Combine(root, "Packages")) ? SafeParse(Path.Combine(root, "Packages")) : null;
        var index = packages.Build(files, previous, clock.GetUtcNow(), (path, e) => Skipped(path, e.Message));
        var identity = string.Concat(files.Select(f => $"{f.Path}\0{f.Size}\0{f.ModifiedTicks}\n"));
        last = new Snapshot(files, new ServedIndex(Encoding.UTF8.GetBytes(index.ToString()), index, "\"" + Digest.Of(identity, 32) + "\"", clock.GetUtcNow()));
        return last;
    }

    private void Skipped(string path, string why)
    {
        if (reported.TryAdd(path, 0))
        {
            warn($"{Path.GetRelativePath(root, path)} in the PKGDIR is not served: {why}");
        }
    }

    /// <summary>
    /// The file a request path names, or null when it names nothing servable: a missing file, a directory, a hidden
    /// entry, "." or ".." segments, anything whose real location (after symlinks) lies outside the PKGDIR, or a
    /// Packages file on disk (the generated, current index is served in its place).
    /// </summary>
    /// <remarks>
    /// Only while the PKGDIR is watched are resolutions and small files kept: inotify's events are queued before the
    /// writer's system call returns, so a request that comes after a package changed never gets the one from before.
    /// </remarks>
    public ServedFile? Resolve(string requestPath)
    {
        if (!changes.Watching)
        {
            return ResolveNow(requestPath) is { } unwatched ? new ServedFile(unwatched, null) : null;
        }

        var generation = changes.Current();
        var known = resolutions;
        if (known is null || known.Generation != generation)
        {
            known = new Resolutions(generation, new ConcurrentDictionary<string, ServedFile>(StringComparer.Ordinal));
            resolutions = known;
        }

        if (known.Files.TryGetValue(requestPath, out var served))
        {
            return served;
        }

        if (ResolveNow(requestPath) is not { } file)
        {
            return null;
        }

        served = new ServedFile(file, file.Length <= KeptFileLimit && Interlocked.Add(ref known.KeptBytes, file.Length) <= KeptBytesLimit ? Keep(file) : null);
        if (known.Files.Count < MaxResolutions)
        {
            known.Files.TryAdd(requestPath, served);
        }

        return served;
    }

    /// <summary>The entity tag of a file of this length and modification time, for every file the binhost serves.</summary>
    public static string EntityTag(long length, DateTime modified) =>
        "\"" + length.ToString("x", CultureInfo.InvariantCulture) + "-" + modified.Ticks.ToString("x", CultureInfo.InvariantCulture) + "\"";

    // The file's bytes with the headers of what was read (it may have been replaced since it was resolved); null when it
    // cannot be read now or changed length while it was.
    private static KeptFile? Keep(FileInfo file)
    {
        try
        {
            using var handle = File.OpenHandle(file.FullName, FileMode.Open, FileAccess.Read, FileShare.Read);
            var length = RandomAccess.GetLength(handle);
            if (length > KeptFileLimit)
            {
                return null;
            }

            var modified = File.GetLastWriteTimeUtc(handle);
            var bytes = new byte[length];
            var read = 0;
            for (int n; read < bytes.Length && (n = RandomAccess.Read(handle, bytes.AsSpan(read), read)) > 0;)
            {
                read += n;
            }

            return read == length && RandomAccess.Read(handle, stackalloc byte[1], read) == 0
                ? new KeptFile(bytes, EntityTag(length, modified), HeaderDate(modified))
                : null;
        }
        catch (IOException)
        {
            return null; // gone or unreadable since it was resolved: served from disk, which answers for itself
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>An HTTP date (RFC 9110's IMF-fixdate) of a file's modification time.</summary>
    public static string HeaderDate(DateTime modifiedUtc) =>
        new DateTimeOffset(DateTime.SpecifyKind(modifiedUtc, DateTimeKind.Utc)).ToString("r", CultureInfo.InvariantCulture);

    private FileInfo? ResolveNow(string requestPath)
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
        if (real is null || realRoot is null || !real.StartsWith(realRoot + "/", StringComparison.Ordinal))
        {
            return null;
        }

        // Its status is read now (Exists): a kept FileInfo is then only read, from any thread.
        var file = new FileInfo(real);
        return file.Exists ? file : null;
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
