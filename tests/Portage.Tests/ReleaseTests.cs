using Gentoo.Portage.Binhost;
using Gentoo.Portage.Releases;

namespace Gentoo.Portage.Tests;

public sealed class ReleaseTests : IDisposable
{
    private static readonly DateTimeOffset Time = new(2026, 12, 2, 8, 0, 0, TimeSpan.Zero);
    private readonly ReleaseFixture volumes = new();

    public void Dispose() => volumes.Dispose();

    private Release Make(string run = "default/world-1", DateTimeOffset? at = null) =>
        new ReleaseStore(volumes.PkgDir).Create(
            new ReleaseDraft(ReleaseContents.Select(volumes.PortageIndex, volumes.PkgDir, volumes.Vdb), volumes.Repositories, run, "cfg1", Partial: false), at ?? Time).Release;

    [Fact]
    public void A_release_holds_the_instance_of_each_installed_package_as_the_vdb_records_it()
    {
        var index = ReleaseContents.Select(volumes.PortageIndex, volumes.PkgDir, volumes.Vdb);

        index.Packages.Select(p => $"{p["CPV"]}-{p["BUILD_ID"]}").ShouldBe(
            ["app-misc/greeter-1.0-1", "app-text/wordcount-0.5-r1-2", "dev-libs/libgreet-2.1-1", "dev-libs/libkver-0.3-1"]);
        index.Header["PACKAGES"].ShouldBe("4");
        index.Header["ARCH"].ShouldBe("amd64");
    }

    [Fact]
    public void A_package_not_installed_or_whose_file_is_gone_is_not_in_the_release()
    {
        volumes.Uninstall("dev-libs/libkver-0.3");
        File.Delete(Path.Combine(volumes.PkgDir, "app-misc/greeter/greeter-1.0-1.gpkg.tar"));

        var index = ReleaseContents.Select(volumes.PortageIndex, volumes.PkgDir, volumes.Vdb);

        index.Packages.Select(p => p["CPV"]).ShouldBe(["app-text/wordcount-0.5-r1", "dev-libs/libgreet-2.1"]);
    }

    [Fact]
    public void Releases_are_numbered_and_record_what_changed_since_the_one_before()
    {
        var first = Make();
        volumes.Uninstall("dev-libs/libkver-0.3");
        volumes.Uninstall("app-text/wordcount-0.5-r1");
        volumes.Install(volumes.PortageIndex, "app-text/wordcount-0.5-r1", "1", recordBuildId: true);
        var second = Make("default/world-2");

        first.Id.ShouldBe("1");
        first.Added.ShouldBe(4);
        second.Id.ShouldBe("2");
        second.Previous.ShouldBe("1");
        second.Changes.ShouldBe([
            new PackageChange("app-text/wordcount:0", new PackageInstance("app-text/wordcount-0.5-r1", 2), new PackageInstance("app-text/wordcount-0.5-r1", 1)),
            new PackageChange("dev-libs/libkver:0", new PackageInstance("dev-libs/libkver-0.3", 1), null),
        ]);
        new ReleaseStore(volumes.PkgDir).List().Select(r => (r.Id, r.Run)).ShouldBe([("1", "default/world-1"), ("2", "default/world-2")]);
        new ReleaseStore(volumes.PkgDir).ReadIndex("2").Packages.Count.ShouldBe(3);
    }

    [GitFact]
    public void The_repository_snapshot_is_the_tree_git_itself_makes_of_the_repository()
    {
        var release = Make();

        var work = Path.Combine(volumes.Directory, "work");
        Directory.CreateDirectory(work);
        foreach (var file in Directory.EnumerateFiles(volumes.Repository, "*", SearchOption.AllDirectories))
        {
            var target = Path.Combine(work, Path.GetRelativePath(volumes.Repository, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }

        ReleaseFixture.Git(work, "init", "-q").ExitCode.ShouldBe(0);
        ReleaseFixture.Git(work, "add", "-A").ExitCode.ShouldBe(0);
        var (_, tree) = ReleaseFixture.Git(work, "write-tree");
        release.Repositories.Single().Tree.ShouldBe(tree.Trim());

        var store = new ReleaseStore(volumes.PkgDir).GitDirectory("demo");
        var fsck = ReleaseFixture.Git(volumes.Directory, "--git-dir", store, "fsck", "--strict", "--no-dangling", release.Repositories.Single().Commit);
        fsck.ExitCode.ShouldBe(0, fsck.Output);
        ReleaseFixture.Git(volumes.Directory, "--git-dir", store, "cat-file", "-p", "HEAD:profiles/repo_name".Replace("HEAD", release.Repositories.Single().Commit, StringComparison.Ordinal))
            .Output.ShouldBe("demo\n");
    }

    [Fact]
    public void An_unchanged_repository_keeps_its_commit_and_adds_no_pack()
    {
        var first = Make();
        var packs = Directory.GetFiles(Path.Combine(new ReleaseStore(volumes.PkgDir).GitDirectory("demo"), "objects", "pack"), "*.pack").Length;
        volumes.Uninstall("dev-libs/libkver-0.3");
        var second = Make();

        second.Id.ShouldBe("2");
        second.Repositories.Single().Commit.ShouldBe(first.Repositories.Single().Commit);
        Directory.GetFiles(Path.Combine(new ReleaseStore(volumes.PkgDir).GitDirectory("demo"), "objects", "pack"), "*.pack").Length.ShouldBe(packs);
    }

    [Fact]
    public void A_run_that_changed_nothing_makes_no_new_release()
    {
        var store = new ReleaseStore(volumes.PkgDir);
        var draft = new ReleaseDraft(ReleaseContents.Select(volumes.PortageIndex, volumes.PkgDir, volumes.Vdb), volumes.Repositories, "default/world-1", "cfg1", Partial: false);
        store.Create(draft, Time).IsNew.ShouldBeTrue();

        var again = store.Create(draft with { Run = "default/world-2" }, Time.AddDays(1));

        again.IsNew.ShouldBeFalse();
        again.Release.Id.ShouldBe("1");
        store.Create(draft with { ConfigDigest = "cfg2" }, Time.AddDays(2)).Release.Id.ShouldBe("2", "a configuration change is a new release even with the same packages");
    }

    [GitFact]
    public void A_changed_repository_gets_a_commit_after_the_previous_one_holding_only_the_new_objects()
    {
        var first = Make();
        File.AppendAllText(Path.Combine(volumes.Repository, "app-misc", "greeter", "greeter-1.0.ebuild"), "# changed\n");
        var second = Make();

        var store = new ReleaseStore(volumes.PkgDir).GitDirectory("demo");
        second.Repositories.Single().Commit.ShouldNotBe(first.Repositories.Single().Commit);
        ReleaseFixture.Git(volumes.Directory, "--git-dir", store, "rev-parse", second.Repositories.Single().Commit + "^").Output.Trim().ShouldBe(first.Repositories.Single().Commit);
        var diff = ReleaseFixture.Git(volumes.Directory, "--git-dir", store, "diff", "--name-only", first.Repositories.Single().Commit, second.Repositories.Single().Commit);
        diff.Output.ShouldBe("app-misc/greeter/greeter-1.0.ebuild\n");
        // The second pack holds the changed ebuild, the trees above it and the commit: 1 + 3 + 1.
        var packs = Directory.GetFiles(Path.Combine(store, "objects", "pack"), "*.idx").Select(i => ReleaseFixture.Git(volumes.Directory, "verify-pack", "-v", i)).ToList();
        packs.ShouldAllBe(p => p.ExitCode == 0);
        packs.Select(p => p.Output.Split('\n').Count(l => l.Length > 40 && l[40] == ' ')).Order().First().ShouldBe(5);
    }

    [GitFact]
    public void Publishing_an_earlier_release_moves_the_published_branch_forward_to_its_tree()
    {
        var first = Make();
        File.AppendAllText(Path.Combine(volumes.Repository, "app-misc", "greeter", "greeter-1.0.ebuild"), "# changed\n");
        var second = Make();
        var store = new ReleaseStore(volumes.PkgDir);
        var published = store.Publish("2", Time);
        var rolledBack = store.Publish("1", Time.AddHours(1));

        rolledBack.Release.ShouldBe("1");
        store.Published()!.Release.ShouldBe("1");
        var git = store.GitDirectory("demo");
        ReleaseFixture.Git(volumes.Directory, "--git-dir", git, "rev-parse", rolledBack.Commits["demo"] + "^").Output.Trim().ShouldBe(published.Commits["demo"]);
        ReleaseFixture.Git(volumes.Directory, "--git-dir", git, "rev-parse", rolledBack.Commits["demo"] + "^{tree}").Output.Trim().ShouldBe(first.Repositories.Single().Tree);
        Should.Throw<ReleaseNotFoundException>(() => store.Publish("7", Time)).Message.ShouldBe("release 7 does not exist; kept releases: 1, 2");
    }

    [Fact]
    public void A_purge_removes_exactly_the_files_only_dropped_releases_referenced()
    {
        var store = new ReleaseStore(volumes.PkgDir);
        Make();                                                   // 1: wordcount build 2, libkver
        volumes.Uninstall("app-text/wordcount-0.5-r1");
        volumes.Install(volumes.PortageIndex, "app-text/wordcount-0.5-r1", "1", recordBuildId: true);
        volumes.Uninstall("dev-libs/libkver-0.3");
        Make();                                                   // 2: wordcount build 1, no libkver
        store.Publish("2", Time);
        // A package built by a run that made no release yet: never purged.
        var unreleased = Path.Combine(volumes.PkgDir, "app-misc", "unreleased", "unreleased-1-1.gpkg.tar");
        Directory.CreateDirectory(Path.GetDirectoryName(unreleased)!);
        File.WriteAllText(unreleased, "work in progress");

        var kept = store.Purge(keep: 2, new HashSet<string>());
        kept.Files.ShouldBeEmpty();

        var result = store.Purge(keep: 1, new HashSet<string>());

        result.Releases.ShouldBe(["1"]);
        result.Files.ShouldBe(["app-text/wordcount/wordcount-0.5-r1-2.gpkg.tar", "dev-libs/libkver/libkver-0.3-1.gpkg.tar"]);
        result.Bytes.ShouldBe(20480 + 10240);
        File.Exists(Path.Combine(volumes.PkgDir, "app-text/wordcount/wordcount-0.5-r1-1.gpkg.tar")).ShouldBeTrue();
        File.Exists(Path.Combine(volumes.PkgDir, "app-misc/greeter/greeter-1.0-1.gpkg.tar")).ShouldBeTrue();
        File.Exists(unreleased).ShouldBeTrue();
        store.List().Select(r => r.Id).ShouldBe(["2"]);
        volumes.PortageIndex.Packages.Select(p => p["PATH"]).ShouldNotContain("dev-libs/libkver/libkver-0.3-1.gpkg.tar");
        volumes.PortageIndex.Header["PACKAGES"].ShouldBe("3");
    }

    [Fact]
    public void The_published_release_and_marked_ones_are_never_dropped()
    {
        var (kept, dropped) = Retention.Plan(["1", "2", "3", "4", "10"], keep: 2, new HashSet<string> { "2" }, published: "1");

        kept.ShouldBe(["10", "4", "2", "1"]);
        dropped.ShouldBe(["3"]);
        Retention.Plan(["1", "2"], keep: 0, new HashSet<string>(), published: null).Kept.ShouldBe(["2"]);
    }
}
