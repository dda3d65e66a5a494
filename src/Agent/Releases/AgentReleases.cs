using Gentoo.Portage.Binhost;
using Gentoo.Portage.Releases;
using Gentoo.Protocol;

namespace Gentoo.Agent.Releases;

/// <summary>
/// The agent's part in releases: after a successful build it records the release on the binpkgs volume (the
/// installed instances, the repositories they were built from), publishes it when asked, and applies retention; a
/// publish run publishes a kept release and applies retention. Retention runs only here, in the one pod that has the
/// builder's volumes, so no build ever loses a package file under it.
/// </summary>
public sealed class AgentReleases(AgentOptions options, TimeProvider clock, Action<string> say)
{
    private string PackageDirectory => options.Binpkgs ?? Path.Combine(options.Root, "var", "cache", "binpkgs");

    private ReleaseStore Store => new(PackageDirectory);

    /// <summary>Records the release of a successful (or, when allowed, partial) build; the report says why when there is none.</summary>
    public ReportReleases AfterBuild(bool partial)
    {
        var store = Store;
        var portageIndex = Path.Combine(PackageDirectory, "Packages");
        if (!File.Exists(portageIndex))
        {
            return Report(store, made: null, purged: null) with { NotMade = $"no release: {portageIndex} does not exist (is FEATURES=buildpkg set?)" };
        }

        var index = ReleaseContents.Select(PackagesIndex.Parse(File.ReadAllText(portageIndex)), PackageDirectory, Path.Combine(options.Root, "var", "db", "pkg"));
        if (index.Packages.Count == 0)
        {
            return Report(store, made: null, purged: null) with { NotMade = "no release: no installed package has a binary package in PKGDIR" };
        }

        var repositories = Repositories();
        var (release, isNew) = store.Create(new ReleaseDraft(index, repositories, options.ReleaseRun, options.ConfigDigest, partial), clock.GetUtcNow());
        say(isNew
            ? $">>> gentoo-builder: release {release.Id}: {release.Packages} package(s), {release.Added} added, {release.Removed} removed, {release.Changed} changed; repositories {string.Join(", ", release.Repositories.Select(r => $"{r.Name} at {r.Commit[..12]}"))}"
            : $">>> gentoo-builder: nothing changed since release {release.Id} (the same packages, repositories and configuration): no new release");
        if (options.Publish == "newest")
        {
            store.Publish(release.Id, clock.GetUtcNow());
            say($">>> gentoo-builder: release {release.Id} published");
        }

        return Report(store, release.Id, Purge(store));
    }

    /// <summary>A person's choice of release (a rollback, or a release kept back from publishing), then retention.</summary>
    public ReportReleases Publish(string id)
    {
        var store = Store;
        store.Publish(id, clock.GetUtcNow());
        say($">>> gentoo-builder: release {id} published");
        return Report(store, made: null, Purge(store));
    }

    private PurgeResult Purge(ReleaseStore store)
    {
        var purged = store.Purge(options.KeepReleases, options.KeepRelease.ToHashSet(StringComparer.Ordinal));
        foreach (var file in purged.Files)
        {
            say($">>> gentoo-builder: purged {file}: no kept release refers to it");
        }

        if (purged.Releases.Count > 0)
        {
            say($">>> gentoo-builder: release(s) {string.Join(", ", purged.Releases)} no longer kept; {purged.Files.Count} file(s), {purged.Bytes} bytes freed");
        }

        return purged;
    }

    /// <summary>Each repository under /var/db/repos by the name it gives itself (profiles/repo_name), as Portage names it.</summary>
    private Dictionary<string, string> Repositories()
    {
        var repositories = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var directory in Portage.Repositories.EbuildRepositories.Under(Path.Combine(options.Root, "var", "db", "repos")))
        {
            var named = Path.Combine(directory, "profiles", "repo_name");
            var name = File.Exists(named) && File.ReadLines(named).FirstOrDefault()?.Trim() is { Length: > 0 } given ? given : Path.GetFileName(directory);
            repositories.TryAdd(name, directory);
        }

        return repositories;
    }

    private static ReportReleases Report(ReleaseStore store, string? made, PurgeResult? purged) => new(
        made,
        store.Published()?.Release,
        [.. store.List().Select(r => new ReportRelease(r.Id, r.Created, r.Run, r.Packages, r.Added, r.Removed, r.Changed, r.Partial))],
        purged is null ? null : new ReportPurge(purged.Releases.Count, purged.Files.Count, purged.Bytes));
}
