using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Gentoo.Portage.Binhost;
using Gentoo.Portage.Releases;
using Gentoo.Runtime;

namespace Gentoo.Binhost;

/// <summary>
/// What a binhost serves of the releases on its PKGDIR (<see cref="ReleaseStore"/>): each release's index, the
/// published one's as /Packages, and each repository snapshot as a git repository over the "dumb" HTTP protocol, with
/// refs made here (the published release's commit, or a pinned release's). Indexes are read once per version of their
/// file; a request costs a stat.
/// </summary>
public sealed partial class ServedReleases(string pkgdir)
{
    private readonly ReleaseStore store = new(pkgdir);
    private readonly ConcurrentDictionary<string, (FileIdentity Identity, ServedIndex Index)> indexes = new(StringComparer.Ordinal);
    private KnownPublication? publication;

    /// <summary>published.json as last read: one reference, swapped whole, so concurrent requests never see half of it.</summary>
    private sealed record KnownPublication(FileIdentity Identity, Publication? Publication);

    private readonly record struct FileIdentity(long Length, long Ticks)
    {
        public static FileIdentity? Of(string path)
        {
            var info = new FileInfo(path);
            return info.Exists ? new FileIdentity(info.Length, info.LastWriteTimeUtc.Ticks) : null;
        }
    }

    public ReleaseStore Store => store;

    /// <summary>Whether any release was ever made: until then the binhost serves the PKGDIR as it is (older volumes).</summary>
    public bool Any() => Directory.Exists(store.Root) && Directory.EnumerateDirectories(store.Root).Any(d => ReleaseStore.IsId(Path.GetFileName(d)));

    /// <summary>The published release, read again only when published.json changed.</summary>
    public Publication? Published()
    {
        var path = Path.Combine(store.Root, "published.json");
        var identity = FileIdentity.Of(path);
        if (identity is null)
        {
            return null;
        }

        if (publication is { } known && known.Identity == identity)
        {
            return known.Publication;
        }

        var read = store.Published();
        publication = new KnownPublication(identity.Value, read);
        return read;
    }

    /// <summary>
    /// The index /Packages serves: the published release's; with releases but none published (autoPublish off and no
    /// person's choice yet), an index of no packages; null when there are no releases at all.
    /// </summary>
    public ServedIndex? PublishedIndex()
    {
        if (Published() is { } published && Index(published.Release) is { } index)
        {
            return index;
        }

        if (!Any())
        {
            return null;
        }

        var empty = new PackagesIndex();
        empty.Header["PACKAGES"] = "0";
        empty.Header["VERSION"] = "0";
        return new ServedIndex(Encoding.UTF8.GetBytes(empty.ToString()), empty, "\"unpublished\"", DateTimeOffset.UnixEpoch);
    }

    /// <summary>A kept release's index, or null when there is no such release.</summary>
    public ServedIndex? Index(string id)
    {
        if (!ReleaseStore.IsId(id) || FileIdentity.Of(store.IndexPath(id)) is not { } identity)
        {
            return null;
        }

        if (indexes.TryGetValue(id, out var cached) && cached.Identity == identity)
        {
            return cached.Index;
        }

        var bytes = File.ReadAllBytes(store.IndexPath(id));
        var index = new ServedIndex(bytes, PackagesIndex.Parse(Encoding.UTF8.GetString(bytes)), $"\"release-{id}-{Digest.Of(Encoding.UTF8.GetString(bytes), 16)}\"",
            new DateTimeOffset(identity.Ticks, TimeSpan.Zero));
        indexes[id] = (identity, index);
        return index;
    }

    /// <summary>
    /// A file of a repository snapshot's git repository: info/refs and HEAD made for the published release (or the
    /// release <paramref name="pinned"/>), the pack list and packs from the volume. Null: nothing there.
    /// </summary>
    public GitAnswer? Git(string repository, string path, string? pinned)
    {
        if (!RepositoryName().IsMatch(repository))
        {
            return null;
        }

        var commit = pinned is null
            ? Published()?.Commits.GetValueOrDefault(repository)
            : store.Get(pinned)?.Repositories.FirstOrDefault(r => r.Name == repository)?.Commit;
        if (commit is null)
        {
            return null;
        }

        return path switch
        {
            "info/refs" => new GitAnswer(Text: RefsFor(commit, pinned), File: null),
            "HEAD" => new GitAnswer(Text: "ref: refs/heads/main\n", File: null),
            "objects/info/packs" => Existing(Path.Combine(store.GitDirectory(repository), "objects", "info", "packs")),
            _ when PackFile().IsMatch(path) => Existing(Path.Combine(store.GitDirectory(repository), path)),
            _ => null, // loose objects, alternates: there are none
        };
    }

    private string RefsFor(string main, string? pinned)
    {
        var refs = new StringBuilder();
        refs.Append(main).Append("\trefs/heads/main\n");
        if (pinned is null)
        {
            return refs.ToString();
        }

        refs.Append(main).Append("\trefs/tags/release-").Append(pinned).Append('\n');
        return refs.ToString();
    }

    private static GitAnswer? Existing(string path) => File.Exists(path) ? new GitAnswer(null, path) : null;

    [GeneratedRegex("^[A-Za-z0-9_][A-Za-z0-9_+-]{0,63}$")]
    private static partial Regex RepositoryName();

    [GeneratedRegex("^objects/pack/pack-[0-9a-f]{40}\\.(pack|idx)$")]
    private static partial Regex PackFile();

    /// <summary>The text of a release's changes, one line each, for the page and the plugin's diff.</summary>
    public static string Describe(PackageChange change) => (change.Before, change.After) switch
    {
        (null, { } after) => $"+ {after}",
        ({ } before, null) => $"- {before}",
        ({ } before, { } after) => $"~ {change.Package}: {before.Cpv} (build {before.BuildId.ToString(CultureInfo.InvariantCulture)}) -> {after.Cpv} (build {after.BuildId.ToString(CultureInfo.InvariantCulture)})",
        _ => change.Package,
    };
}

/// <summary>A git file as served: made text, or a file on the volume.</summary>
public sealed record GitAnswer(string? Text, string? File);
