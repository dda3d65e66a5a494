using System.Globalization;
using System.Text.Json;
using Gentoo.Portage.Binhost;

namespace Gentoo.Portage.Releases;

/// <summary>What a new release is made of, as the build that made it knows it.</summary>
public sealed record ReleaseDraft(PackagesIndex Index, IReadOnlyDictionary<string, string> Repositories, string? Run, string? ConfigDigest, bool Partial);

/// <summary>
/// The releases of one PKGDIR, kept on the binpkgs volume itself so that they outlive any status or builder:
/// <c>.releases/ID/release.json</c> and <c>.releases/ID/Packages</c> per release, <c>.releases/published.json</c>,
/// and one git repository of snapshots per ebuild repository under <c>.releases/repos/NAME.git</c>. Every write is to
/// a temporary name renamed into place, under a lock file, so a reader never sees half a release and two writers
/// (a build pod and a binhost publishing) take turns. The directory is hidden, so the binhost never serves it as files.
/// </summary>
public sealed class ReleaseStore(string pkgdir)
{
    public const string DirectoryName = ".releases";

    public string PackageDirectory { get; } = Path.GetFullPath(pkgdir);

    public string Root => Path.Combine(PackageDirectory, DirectoryName);

    private string PublishedPath => Path.Combine(Root, "published.json");

    /// <summary>The git repository holding the snapshots of the ebuild repository <paramref name="repository"/>.</summary>
    public string GitDirectory(string repository) => Path.Combine(Root, "repos", repository + ".git");

    /// <summary>A release's own Packages index.</summary>
    public string IndexPath(string id) => Path.Combine(Root, id, "Packages");

    /// <summary>Every release, oldest first.</summary>
    public IReadOnlyList<Release> List()
    {
        if (!Directory.Exists(Root))
        {
            return [];
        }

        var releases = new List<Release>();
        foreach (var directory in Directory.EnumerateDirectories(Root))
        {
            var name = Path.GetFileName(directory);
            if (IsId(name) && File.Exists(Path.Combine(directory, "release.json")))
            {
                releases.Add(Release.Parse(File.ReadAllText(Path.Combine(directory, "release.json"))));
            }
        }

        releases.Sort((a, b) => Release.CompareIds(a.Id, b.Id));
        return releases;
    }

    public Release? Get(string id) =>
        IsId(id) && File.Exists(Path.Combine(Root, id, "release.json")) ? Release.Parse(File.ReadAllText(Path.Combine(Root, id, "release.json"))) : null;

    public PackagesIndex ReadIndex(string id) => PackagesIndex.Parse(File.ReadAllText(IndexPath(id)));

    public Publication? Published() =>
        File.Exists(PublishedPath) ? JsonSerializer.Deserialize(File.ReadAllText(PublishedPath), Release.PublicationContract) : null;

    /// <summary>Release ids are decimal numbers: nothing else under .releases is one, and no path can be smuggled in as one.</summary>
    public static bool IsId(string? value) => value is { Length: > 0 and <= 18 } && value.All(char.IsAsciiDigit);

    /// <summary>
    /// Records a release: the snapshot of each repository (a commit only when its tree changed since the previous
    /// release), the index, what changed since the previous release. A run that changed nothing (the same package
    /// instances, repository trees and configuration as the newest release) makes no new release: the newest one is
    /// returned, not new, so that retention keeps releases that differ rather than copies of one.
    /// </summary>
    public (Release Release, bool IsNew) Create(ReleaseDraft draft, DateTimeOffset now)
    {
        using var _ = Lock();
        var existing = List();
        var previous = existing.Count > 0 ? existing[^1] : null;
        var id = ((previous is null ? 0 : long.Parse(previous.Id, CultureInfo.InvariantCulture)) + 1).ToString(CultureInfo.InvariantCulture);
        var repositories = new List<ReleaseRepository>();
        foreach (var (name, path) in draft.Repositories.OrderBy(r => r.Key, StringComparer.Ordinal))
        {
            var store = new GitPackStore(GitDirectory(name));
            using var pack = store.BeginPack();
            var tree = RepositorySnapshot.WriteTree(pack, path);
            var source = RepositorySnapshot.SourceRevision(path);
            var before = previous?.Repositories.FirstOrDefault(r => r.Name == name);
            var commit = before is not null && before.Tree == tree ? before.Commit
                : RepositorySnapshot.Commit(pack, tree, before?.Commit, $"gentoo-builder release {id}\n\n{source ?? "source revision unknown"}", now);
            pack.Finish();
            repositories.Add(new ReleaseRepository(name, commit, tree, source));
        }

        var changes = ReleaseContents.Diff(previous is null ? null : ReadIndex(previous.Id), draft.Index);
        if (previous is not null && changes.Count == 0 && previous.ConfigDigest == draft.ConfigDigest && previous.Partial == draft.Partial
            && previous.Repositories.Select(r => (r.Name, r.Tree)).SequenceEqual(repositories.Select(r => (r.Name, r.Tree))))
        {
            return (previous, false);
        }

        var release = new Release
        {
            Id = id,
            Created = now,
            Run = draft.Run,
            ConfigDigest = draft.ConfigDigest,
            Partial = draft.Partial,
            Packages = draft.Index.Packages.Count,
            Previous = previous?.Id,
            Repositories = repositories,
            Changes = changes,
        };
        var temporary = Path.Combine(Root, $".tmp-{id}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(temporary);
        File.WriteAllText(Path.Combine(temporary, "Packages"), draft.Index.ToString());
        File.WriteAllText(Path.Combine(temporary, "release.json"), release.ToJson());
        Directory.Move(temporary, Path.Combine(Root, id));
        return (release, true);
    }

    /// <summary>
    /// Makes <paramref name="id"/> the published release. Each repository's published branch gets a commit of that
    /// release's tree on top of what it had, so a client's sync always moves forward, a rollback included.
    /// </summary>
    public Publication Publish(string id, DateTimeOffset now)
    {
        using var _ = Lock();
        var release = Get(id) ?? throw new ReleaseNotFoundException(id, List().Select(r => r.Id).ToList());
        var current = Published();
        if (current?.Release == id)
        {
            return current;
        }

        var commits = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var repository in release.Repositories)
        {
            var store = new GitPackStore(GitDirectory(repository.Name));
            using var pack = store.BeginPack();
            var parent = current?.Commits.GetValueOrDefault(repository.Name);
            commits[repository.Name] = RepositorySnapshot.Commit(pack, repository.Tree, parent, $"gentoo-builder: publish release {id}", now);
            pack.Finish();
        }

        var publication = new Publication(id, now, commits);
        WriteAtomically(PublishedPath, JsonSerializer.Serialize(publication, Release.PublicationContract));
        return publication;
    }

    /// <summary>
    /// Drops the releases the policy no longer keeps and deletes the package files only they referenced (from disk
    /// and from the PKGDIR's own Packages index, which Portage trusts). Nothing no release ever referenced is touched.
    /// </summary>
    public PurgeResult Purge(int keep, IReadOnlySet<string> marked)
    {
        using var _ = Lock();
        var releases = List();
        var (kept, dropped) = Retention.Plan(releases.Select(r => r.Id), keep, marked, Published()?.Release);
        if (dropped.Count == 0)
        {
            return new PurgeResult([], [], 0);
        }

        var files = Retention.Unreferenced(dropped.Select(id => ReleaseContents.Paths(ReadIndex(id)).ToList()), kept.Select(id => ReleaseContents.Paths(ReadIndex(id)).ToList()));
        var removed = new List<string>();
        long bytes = 0;
        foreach (var relative in files)
        {
            var path = Path.GetFullPath(Path.Combine(PackageDirectory, relative));
            if (!path.StartsWith(PackageDirectory + "/", StringComparison.Ordinal) || !File.Exists(path))
            {
                continue;
            }

            bytes += new FileInfo(path).Length;
            File.Delete(path);
            removed.Add(relative);
        }

        RemoveFromPortageIndex(removed);
        foreach (var id in dropped)
        {
            Directory.Delete(Path.Combine(Root, id), recursive: true);
        }

        return new PurgeResult(dropped, removed, bytes);
    }

    private void RemoveFromPortageIndex(IReadOnlyCollection<string> removed)
    {
        var path = Path.Combine(PackageDirectory, "Packages");
        if (removed.Count == 0 || !File.Exists(path))
        {
            return;
        }

        var gone = removed.ToHashSet(StringComparer.Ordinal);
        var index = PackagesIndex.Parse(File.ReadAllText(path));
        index.Packages.RemoveAll(p => p["PATH"] is { } file && gone.Contains(file));
        index.Header["PACKAGES"] = index.Packages.Count.ToString(CultureInfo.InvariantCulture);
        WriteAtomically(path, index.ToString());
    }

    private static void WriteAtomically(string path, string content)
    {
        var temporary = path + ".tmp";
        File.WriteAllText(temporary, content);
        File.Move(temporary, path, overwrite: true);
    }

    /// <summary>
    /// An exclusive lock on .releases/lock (flock underneath, so it holds across pods on one volume); waits its turn,
    /// up to five minutes (a snapshot of a large repository takes a while), then says who may hold it.
    /// </summary>
    private FileStream Lock()
    {
        Directory.CreateDirectory(Root);
        const int Tries = 1500;
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return new FileStream(Path.Combine(Root, "lock"), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException) when (attempt < Tries)
            {
                Thread.Sleep(200);
            }
            catch (IOException e)
            {
                throw new IOException($"{Path.Combine(Root, "lock")} stayed locked for five minutes: another build or publish pod is writing releases ({e.Message})", e);
            }
        }
    }
}

/// <summary>A release asked for that is not kept (never made, or purged).</summary>
public sealed class ReleaseNotFoundException(string id, IReadOnlyList<string> kept)
    : Exception($"release {id} does not exist; kept releases: {(kept.Count == 0 ? "none" : string.Join(", ", kept))}");
