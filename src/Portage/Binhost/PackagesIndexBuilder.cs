using System.Globalization;

namespace Gentoo.Portage.Binhost;

/// <summary>A package file as found on disk: it is read again exactly when its size or modification time changes.</summary>
public readonly record struct PackageFile(string Path, long Size, long ModifiedTicks)
{
    /// <summary>
    /// Every .gpkg.tar under <paramref name="pkgdir"/>, in ordinal order of path: one stat each, no reading. Links are
    /// never followed (a link to / would walk into /proc), so nothing outside the PKGDIR is listed; a directory the
    /// reader may not enter (every ext4 volume's root-owned 0700 lost+found) is left out and named to
    /// <paramref name="skipped"/>, with why. (A package it may not read is left out when it is read.)
    /// </summary>
    public static IReadOnlyList<PackageFile> Scan(string pkgdir, Action<string, string>? skipped = null)
    {
        var files = new List<PackageFile>();
        var pending = new Stack<string>([pkgdir]);
        while (pending.Count > 0)
        {
            var directory = pending.Pop();
            FileSystemInfo[] entries;
            try
            {
                entries = new DirectoryInfo(directory).GetFileSystemInfos();
            }
            catch (Exception e) when (e is UnauthorizedAccessException or IOException)
            {
                if (directory == pkgdir && e is DirectoryNotFoundException)
                {
                    throw;
                }

                skipped?.Invoke(directory, e.Message);
                continue;
            }

            foreach (var entry in entries)
            {
                if (entry.LinkTarget is not null)
                {
                    if (entry.Name.EndsWith(".gpkg.tar", StringComparison.Ordinal) || entry is DirectoryInfo)
                    {
                        skipped?.Invoke(entry.FullName, $"a symbolic link (to {entry.LinkTarget}); links are never followed");
                    }

                    continue;
                }

                if (entry is DirectoryInfo)
                {
                    pending.Push(entry.FullName);
                }
                else if (entry is FileInfo file && file.Name.EndsWith(".gpkg.tar", StringComparison.Ordinal))
                {
                    try
                    {
                        files.Add(new PackageFile(file.FullName, file.Length, file.LastWriteTimeUtc.Ticks));
                    }
                    catch (FileNotFoundException)
                    {
                        // removed between listing and stat: it is simply not there
                    }
                }
            }
        }

        files.Sort((a, b) => string.CompareOrdinal(a.Path, b.Path));
        return files;
    }
}

/// <summary>Builds a Packages index for a PKGDIR the way Portage writes one, so that clients accept it.</summary>
public static class PackagesIndexBuilder
{
    /// <summary>
    /// Indexes every .gpkg.tar under <paramref name="pkgdir"/>. The header of <paramref name="previous"/> is kept
    /// (it describes the build host); PACKAGES and TIMESTAMP are set anew.
    /// </summary>
    public static PackagesIndex Build(string pkgdir, PackagesIndex? previous, DateTimeOffset now, Action<string, Exception>? onError = null) =>
        new IncrementalPackagesIndex(pkgdir).Build(PackageFile.Scan(pkgdir), previous, now, onError);
}

/// <summary>
/// A PKGDIR's Packages index that remembers each package's entry by file identity: a PKGDIR holds gigabytes, and
/// after one new package only that one is read and hashed, not all of them again. One caller at a time.
/// </summary>
public sealed class IncrementalPackagesIndex(string pkgdir)
{
    /// <summary>Metadata variables Portage copies into each package block, when not empty.</summary>
    private static readonly string[] Copied =
        ["BDEPEND", "BUILD_ID", "BUILD_TIME", "DEFINED_PHASES", "DEPEND", "EAPI", "IDEPEND", "IUSE", "KEYWORDS", "LICENSE", "PDEPEND", "PROPERTIES", "PROVIDES", "RDEPEND", "REPO_REVISIONS", "REQUIRES", "RESTRICT", "SLOT", "USE"];

    private Dictionary<string, Entry> known = new(StringComparer.Ordinal);

    private sealed record Entry(PackageFile File, string Cpv, long BuildId, IndexBlock Block);

    /// <summary>How many package files were read (and hashed) so far: the work the memory saves shows here.</summary>
    public long PackagesRead { get; private set; }

    /// <summary>
    /// The index of <paramref name="files"/> (from <see cref="PackageFile.Scan"/>): entries of unchanged files as they
    /// were, new and changed files read. The header of <paramref name="previous"/> is kept (it describes the build
    /// host); PACKAGES and TIMESTAMP are set anew. A file that cannot be read (half-written, corrupt) is left out,
    /// reported, and tried again next time.
    /// </summary>
    public PackagesIndex Build(IReadOnlyList<PackageFile> files, PackagesIndex? previous, DateTimeOffset now, Action<string, Exception>? onError = null)
    {
        var current = new Dictionary<string, Entry>(StringComparer.Ordinal);
        foreach (var file in files)
        {
            if (known.TryGetValue(file.Path, out var entry) && entry.File == file)
            {
                current[file.Path] = entry;
            }
            else if (Read(file, onError) is { } read)
            {
                current[file.Path] = read;
            }
        }

        known = current;
        var index = new PackagesIndex();
        foreach (var (key, value) in previous?.Header.Fields ?? [])
        {
            index.Header.Add(key, value);
        }

        index.Packages.AddRange(current.Values.OrderBy(e => e.Cpv, StringComparer.Ordinal).ThenBy(e => e.BuildId).Select(e => e.Block));
        index.Header["PACKAGES"] = index.Packages.Count.ToString(CultureInfo.InvariantCulture);
        index.Header["TIMESTAMP"] = now.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        index.Header["VERSION"] ??= "0";
        return index;
    }

    /// <summary>The CPV of a package file as last indexed; null when it was not (unreadable, or not there then).</summary>
    public string? CpvOf(string path) => known.TryGetValue(path, out var entry) ? entry.Cpv : null;

    private Entry? Read(PackageFile file, Action<string, Exception>? onError)
    {
        GpkgInfo info;
        try
        {
            PackagesRead++;
            info = Gpkg.Read(file.Path);
        }
        catch (Exception e) when (e is InvalidDataException or IOException or FormatException or UnauthorizedAccessException)
        {
            // A half-written, corrupt or unreadable package must not take the whole index down.
            onError?.Invoke(file.Path, e);
            return null;
        }

        if (info.Cpv is not { } cpv)
        {
            onError?.Invoke(file.Path, new InvalidDataException("metadata has no CATEGORY or PF"));
            return null;
        }

        var fields = new SortedDictionary<string, string>(StringComparer.Ordinal)
        {
            ["CPV"] = cpv,
            ["MD5"] = info.Md5,
            ["PATH"] = Path.GetRelativePath(pkgdir, file.Path).Replace('\\', '/'),
            ["SHA1"] = info.Sha1,
            ["SIZE"] = info.Size.ToString(CultureInfo.InvariantCulture),
        };
        foreach (var key in Copied)
        {
            if (info.Metadata.TryGetValue(key, out var value) && value.Trim().Length > 0 && !(key == "SLOT" && value == "0"))
            {
                fields[key] = Normalize(value);
            }
        }

        var block = new IndexBlock();
        foreach (var (key, value) in fields)
        {
            block.Add(key, value);
        }

        // Portage appends these after the sorted fields.
        block.Add("MTIME", info.Modified.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture));
        if (info.Metadata.TryGetValue("repository", out var repository) && repository.Length > 0)
        {
            block.Add("REPO", repository);
        }

        return new Entry(file, cpv, long.TryParse(fields.GetValueOrDefault("BUILD_ID"), out var id) ? id : 0, block);
    }

    /// <summary>Multi-line values (dependency strings) are written on one line, as Portage does.</summary>
    private static string Normalize(string value) => string.Join(' ', value.Split((char[])['\n', '\t', ' '], StringSplitOptions.RemoveEmptyEntries));
}
