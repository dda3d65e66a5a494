using System.Text;
using Gentoo.Portage.Releases;
using Gentoo.Portage.Tests;

namespace Gentoo.Agent.Tests;

/// <summary>
/// Releases as build and publish pods make them: the agent with a stand-in emerge replaying real Portage output, on
/// volumes made from the fixtures (the PKGDIR real Portage wrote, its ebuild repository, a VDB of what it installed).
/// </summary>
public sealed class AgentReleaseTests : IDisposable
{
    private readonly ReleaseFixture volumes = new();

    public void Dispose() => volumes.Dispose();

    private string StandIn(string fixture, int exitCode)
    {
        var script = Path.Combine(volumes.Directory, "emerge");
        File.WriteAllText(script, $"#!/bin/sh\ncat '{Fixtures.PathOf("portage", "logs", fixture + ".log")}'\nexit {exitCode}\n");
        File.SetUnixFileMode(script, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        return script;
    }

    private async Task<(int ExitCode, AgentReport Report, string Console)> RunAsync(params string[] args)
    {
        var options = AgentOptions.Parse([.. args, "--root", volumes.Root, "--no-chroot", "--binpkgs", volumes.PkgDir]);
        using var console = new MemoryStream();
        var (exitCode, report) = await new BuilderAgent(options, console, TimeProvider.System).RunAsync(CancellationToken.None);
        return (exitCode, report, Encoding.UTF8.GetString(console.ToArray()));
    }

    private Task<(int ExitCode, AgentReport Report, string Console)> BuildAsync(string fixture, int exitCode, params string[] extra) =>
        RunAsync(["build", "--emerge", StandIn(fixture, exitCode), "--package", "@world", "--release-run", "default/world", "--config-digest", "cfg", .. extra]);

    [Fact]
    public async Task A_successful_build_makes_and_publishes_a_release_of_what_is_installed()
    {
        var (exitCode, report, console) = await BuildAsync("01-success-build", 0, "--publish", "newest");

        exitCode.ShouldBe(ExitCodes.Success);
        report.Releases!.Made.ShouldBe("1");
        report.Releases.Published.ShouldBe("1");
        report.Releases.Kept.ShouldHaveSingleItem().ShouldBe(new ReportRelease("1", report.Releases.Kept[0].Created, "default/world", 4, 4, 0, 0, false));
        console.ShouldContain(">>> gentoo-builder: release 1: 4 package(s), 4 added, 0 removed, 0 changed; repositories demo at ");
        var release = new ReleaseStore(volumes.PkgDir).Get("1")!;
        release.ConfigDigest.ShouldBe("cfg");
        release.Repositories.ShouldHaveSingleItem().Name.ShouldBe("demo");
    }

    [Fact]
    public async Task A_build_told_not_to_publish_leaves_the_published_release_as_it_was()
    {
        await BuildAsync("01-success-build", 0, "--publish", "newest");
        volumes.Uninstall("dev-libs/libkver-0.3");
        var (_, report, _) = await BuildAsync("01-success-build", 0, "--publish", "none");

        report.Releases!.Made.ShouldBe("2");
        report.Releases.Published.ShouldBe("1");
    }

    [Fact]
    public async Task A_build_that_changed_nothing_reports_the_release_it_matches()
    {
        await BuildAsync("01-success-build", 0, "--publish", "newest");
        var (_, report, console) = await BuildAsync("01-success-build", 0, "--publish", "newest");

        report.Releases!.Made.ShouldBe("1");
        report.Releases.Kept.ShouldHaveSingleItem();
        console.ShouldContain(">>> gentoo-builder: nothing changed since release 1 (the same packages, repositories and configuration): no new release");
    }

    [Fact]
    public async Task A_failed_build_makes_no_release()
    {
        var (exitCode, report, _) = await BuildAsync("16-build-failure-configure", 1, "--publish", "newest");

        exitCode.ShouldBe(ExitCodes.NeedsOperator);
        report.Releases.ShouldBeNull();
        new ReleaseStore(volumes.PkgDir).List().ShouldBeEmpty();
    }

    [Fact]
    public async Task A_keep_going_build_with_failures_makes_a_partial_release_only_when_allowed()
    {
        var (_, refused, _) = await BuildAsync("22-keep-going-partial-failure", 1, "--keep-going", "--publish", "newest");
        refused.Releases.ShouldBeNull();

        var (exitCode, allowed, _) = await BuildAsync("22-keep-going-partial-failure", 1, "--keep-going", "--publish", "newest", "--release-partial");

        exitCode.ShouldBe(ExitCodes.NeedsOperator); // the run still waits for a person about the failed package
        allowed.Releases!.Made.ShouldBe("1");
        allowed.Releases.Kept.Single().Partial.ShouldBeTrue();
    }

    [Fact]
    public async Task A_publish_run_rolls_back_to_a_kept_release_and_refuses_one_that_is_not()
    {
        await BuildAsync("01-success-build", 0, "--publish", "newest");
        File.AppendAllText(Path.Combine(volumes.Repository, "app-misc", "greeter", "greeter-1.0.ebuild"), "# bumped\n");
        await BuildAsync("01-success-build", 0, "--publish", "newest");

        var (exitCode, report, console) = await RunAsync("publish", "--publish", "1");

        exitCode.ShouldBe(ExitCodes.Success);
        report.Releases!.Published.ShouldBe("1");
        console.ShouldContain(">>> gentoo-builder: release 1 published");
        new ReleaseStore(volumes.PkgDir).Published()!.Release.ShouldBe("1");

        var (refusedExit, refused, _) = await RunAsync("publish", "--publish", "9");
        refusedExit.ShouldBe(ExitCodes.NeedsOperator);
        refused.Error.ShouldBe("release 9 does not exist; kept releases: 1, 2");
    }

    [Fact]
    public async Task Retention_after_a_build_purges_what_only_dropped_releases_held_and_reports_it()
    {
        await BuildAsync("01-success-build", 0, "--publish", "newest");
        volumes.Uninstall("dev-libs/libkver-0.3");
        var (_, report, console) = await BuildAsync("01-success-build", 0, "--publish", "newest", "--keep-releases", "1");

        report.Releases!.Kept.Select(r => r.Id).ShouldBe(["2"]);
        report.Releases.Purged.ShouldBe(new ReportPurge(1, 1, 10240));
        console.ShouldContain(">>> gentoo-builder: purged dev-libs/libkver/libkver-0.3-1.gpkg.tar: no kept release refers to it");
        File.Exists(Path.Combine(volumes.PkgDir, "dev-libs/libkver/libkver-0.3-1.gpkg.tar")).ShouldBeFalse();
    }

    [Fact]
    public void A_publish_run_needs_a_release_and_a_build_publishes_newest_or_none()
    {
        Should.Throw<UsageException>(() => AgentOptions.Parse(["publish"])).Message.ShouldBe("publish needs --publish (the id of a kept release)");
        Should.Throw<UsageException>(() => AgentOptions.Parse(["build", "--package", "@world", "--publish", "3"])).Message
            .ShouldBe("--publish 3: a build publishes 'newest' (the release it makes) or 'none'");
        Should.Throw<UsageException>(() => AgentOptions.Parse(["build", "--package", "@world", "--keep-releases", "0"])).Message
            .ShouldBe("--keep-releases 0: expected a whole number above 0");
    }
}
