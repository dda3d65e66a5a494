using System.Globalization;
using Gentoo.Portage.Atoms;
using Gentoo.Portage.Binhost;

namespace Gentoo.Portage.Releases;

/// <summary>Which package instances make a release, and how two releases differ.</summary>
public static class ReleaseContents
{
    /// <summary>
    /// The entries of the PKGDIR's index (<paramref name="pkgdir"/>'s Packages, as Portage keeps it) that the installed
    /// packages in <paramref name="vdb"/> (/var/db/pkg) are: per installed CPV the instance whose BUILD_ID the VDB
    /// records, else the one built at the BUILD_TIME it records, else the newest build of that CPV. Entries whose file
    /// is gone and installed packages with no binary package at all are left out. The header is the index's own.
    /// </summary>
    public static PackagesIndex Select(PackagesIndex pkgdirIndex, string pkgdir, string vdb)
    {
        var byCpv = pkgdirIndex.Packages
            .Where(p => p["CPV"] is not null && p["PATH"] is { } path && File.Exists(Path.Combine(pkgdir, path)))
            .GroupBy(p => p["CPV"]!, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.ToList(), StringComparer.Ordinal);
        var selected = new List<IndexBlock>();
        foreach (var (cpv, installed) in Installed(vdb))
        {
            if (!byCpv.TryGetValue(cpv, out var builds))
            {
                continue;
            }

            var chosen = (installed.BuildId is { } id ? builds.FirstOrDefault(b => b["BUILD_ID"] == id) : null)
                ?? (installed.BuildTime is { } time ? builds.FirstOrDefault(b => b["BUILD_TIME"] == time) : null)
                ?? builds.MaxBy(BuildIdOf)!;
            selected.Add(chosen);
        }

        var index = new PackagesIndex();
        foreach (var (key, value) in pkgdirIndex.Header.Fields)
        {
            index.Header.Add(key, value);
        }

        index.Packages.AddRange(selected.OrderBy(b => b["CPV"], StringComparer.Ordinal).ThenBy(BuildIdOf));
        index.Header["PACKAGES"] = index.Packages.Count.ToString(CultureInfo.InvariantCulture);
        return index;
    }

    /// <summary>What changed from <paramref name="before"/> (none: the first release) to <paramref name="after"/>, per category/name:slot.</summary>
    public static IReadOnlyList<PackageChange> Diff(PackagesIndex? before, PackagesIndex after)
    {
        var old = Instances(before);
        var current = Instances(after);
        var changes = new List<PackageChange>();
        foreach (var key in old.Keys.Union(current.Keys).Order(StringComparer.Ordinal))
        {
            var (was, now) = (old.GetValueOrDefault(key), current.GetValueOrDefault(key));
            if (was != now)
            {
                changes.Add(new PackageChange(key, was, now));
            }
        }

        return changes;
    }

    /// <summary>The package file paths (relative to the PKGDIR) an index refers to.</summary>
    public static IEnumerable<string> Paths(PackagesIndex index) => index.Packages.Select(p => p["PATH"]).OfType<string>();

    public static PackageInstance Instance(IndexBlock block) => new(block["CPV"] ?? "", BuildIdOf(block));

    private static Dictionary<string, PackageInstance> Instances(PackagesIndex? index)
    {
        var result = new Dictionary<string, PackageInstance>(StringComparer.Ordinal);
        foreach (var block in index?.Packages ?? [])
        {
            if (block["CPV"] is not { } cpv || Atom.SplitVersion(cpv[(cpv.IndexOf('/', StringComparison.Ordinal) + 1)..]) is not { } split)
            {
                continue;
            }

            var key = $"{cpv[..cpv.IndexOf('/', StringComparison.Ordinal)]}/{split.Name}:{(block["SLOT"] ?? "0").Split('/')[0]}";
            result[key] = Instance(block);
        }

        return result;
    }

    private static long BuildIdOf(IndexBlock block) => long.TryParse(block["BUILD_ID"], NumberStyles.None, CultureInfo.InvariantCulture, out var id) ? id : 0;

    /// <summary>Each installed package of the VDB (/var/db/pkg/CATEGORY/PF) with the BUILD_ID and BUILD_TIME Portage recorded for it.</summary>
    private static IEnumerable<(string Cpv, (string? BuildId, string? BuildTime) Recorded)> Installed(string vdb)
    {
        if (!Directory.Exists(vdb))
        {
            yield break;
        }

        foreach (var category in Directory.EnumerateDirectories(vdb).Order(StringComparer.Ordinal))
        {
            foreach (var package in Directory.EnumerateDirectories(category).Order(StringComparer.Ordinal))
            {
                var pf = Path.GetFileName(package);
                if (pf.StartsWith('-') || pf.StartsWith('.'))
                {
                    continue; // Portage's own temporary entries while it merges
                }

                yield return ($"{Path.GetFileName(category)}/{pf}", (Read(package, "BUILD_ID"), Read(package, "BUILD_TIME")));
            }
        }
    }

    private static string? Read(string directory, string name) =>
        File.Exists(Path.Combine(directory, name)) && File.ReadAllText(Path.Combine(directory, name)).Trim() is { Length: > 0 } value ? value : null;
}

/// <summary>Which releases a retention policy keeps: the newest few, those a person marked, and the published one.</summary>
public static class Retention
{
    /// <param name="releases">Every release, in any order.</param>
    /// <param name="keep">How many of the newest to keep (at least one: the newest is always kept).</param>
    /// <param name="marked">Ids a person marked to keep.</param>
    /// <param name="published">The published release, never dropped.</param>
    public static (IReadOnlyList<string> Kept, IReadOnlyList<string> Dropped) Plan(IEnumerable<string> releases, int keep, IReadOnlySet<string> marked, string? published)
    {
        var newestFirst = releases.OrderByDescending(r => r, Comparer<string>.Create(Release.CompareIds)).ToList();
        var kept = newestFirst.Where((id, i) => i < Math.Max(1, keep) || marked.Contains(id) || id == published).ToList();
        return (kept, newestFirst.Except(kept).ToList());
    }

    /// <summary>
    /// The files to purge: those a dropped release referenced that no kept release references. A file no release ever
    /// referenced (the work of a run not released yet) is never among them.
    /// </summary>
    public static IReadOnlyList<string> Unreferenced(IEnumerable<IEnumerable<string>> dropped, IEnumerable<IEnumerable<string>> kept)
    {
        var needed = kept.SelectMany(p => p).ToHashSet(StringComparer.Ordinal);
        return [.. dropped.SelectMany(p => p).Where(p => !needed.Contains(p)).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)];
    }
}
