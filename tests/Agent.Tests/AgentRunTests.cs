using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Gentoo.Portage.Tests;

namespace Gentoo.Agent.Tests;

/// <summary>
/// The agent end to end with a stand-in emerge that replays console output real Portage printed (and exits as it
/// did). These run emerge directly (--no-chroot); the chroot tests need root and live with the agent image tests.
/// </summary>
public sealed class AgentRunTests : IDisposable
{
    private readonly DirectoryInfo work = Directory.CreateTempSubdirectory("agent-run-");

    public void Dispose() => work.Delete(recursive: true);

    private string Root => Path.Combine(work.FullName, "root");

    private string StandIn(string fixture, int exitCode) => EmergeScript($"""
        #!/bin/sh
        # Stand-in for emerge: replays what real Portage printed, then exits as it did.
        printf '%s\n' "$*" > '{work.FullName}/emerge.args'
        cat '{Fixtures.PathOf("portage", "logs", fixture + ".log")}'
        exit {exitCode}
        """);

    /// <summary>An executable emerge stand-in running <paramref name="body"/>.</summary>
    private string EmergeScript(string body)
    {
        var script = Path.Combine(work.FullName, "emerge");
        File.WriteAllText(script, body);
        File.SetUnixFileMode(script, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        return script;
    }

    /// <summary>The progress lines the agent published while building <paramref name="package"/> with <paramref name="emerge"/>.</summary>
    private async Task<string> ProgressOfBuildAsync(string emerge, string package)
    {
        Directory.CreateDirectory(Root);
        var options = AgentOptions.Parse(["build", "--root", Root, "--no-chroot", "--emerge", emerge, "--package", package]);
        using var console = new MemoryStream();
        using var progress = new StringWriter();
        await new BuilderAgent(options, console, TimeProvider.System, progress).RunAsync(CancellationToken.None);
        return progress.ToString();
    }

    private async Task<(int ExitCode, AgentReport Report, string Console)> RunAsync(string emerge, CancellationToken stop = default, params string[] extra)
    {
        Directory.CreateDirectory(Root);
        var options = AgentOptions.Parse(["build", "--root", Root, "--no-chroot", "--emerge", emerge, "--package", "@world", .. extra]);
        using var console = new MemoryStream();
        var (exitCode, report) = await new BuilderAgent(options, console, TimeProvider.System).RunAsync(stop);
        return (exitCode, report, Encoding.UTF8.GetString(console.ToArray()));
    }

    [Fact]
    public async Task Successful_build_streams_the_output_keeps_a_log_and_reports_success()
    {
        var (exitCode, report, console) = await RunAsync(StandIn("01-success-build", 0));

        exitCode.ShouldBe(ExitCodes.Success);
        report.Outcome.ShouldBe(Outcome.Success);
        report.PackagesMerged.ShouldBe(4);
        console.ShouldContain(">>> Completed (4 of 4) app-misc/greeter-1.0::demo");
        File.ReadAllText(report.Log!).ShouldBe(File.ReadAllText(Fixtures.PathOf("portage", "logs", "01-success-build.log")));
        File.ReadAllText(Path.Combine(work.FullName, "emerge.args")).Trim().ShouldBe("--buildpkg --usepkg --ask=n @world");
        Directory.GetFiles(Path.Combine(Root, "var", "log", "gentoo-builder"), "*.json").ShouldHaveSingleItem();
    }

    [Fact]
    public async Task Progress_is_published_as_json_lines_while_emerge_runs()
    {
        var progress = await ProgressOfBuildAsync(StandIn("01-success-build", 0), "@world");

        var lines = progress.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        lines.ShouldAllBe(l => l.StartsWith(ProgressLines.Prefix, StringComparison.Ordinal));
        lines.ShouldContain(ProgressLines.Prefix + """{"package":"dev-libs/libgreet-2.1","phase":"compile","done":0,"total":4}""");
        lines[^1].ShouldBe(ProgressLines.Prefix + """{"package":null,"phase":null,"done":4,"total":4}""");
    }

    [Fact]
    public async Task Portage_observability_snapshots_are_enabled_and_published_where_portage_has_them()
    {
        PortageWithObservability();
        var script = EmergeScript($$"""
            #!/bin/sh
            echo "$FEATURES" > '{{work.FullName}}/features'
            mkdir -p '{{Root}}/run/portage'
            cat > '{{Root}}/run/portage/emerge-4242.json' <<'JSON'
            {"emerge_pid": 4242, "jobs": {"completed": 2, "failed": 0, "max": 1, "merge_wait": 0, "merges_pending": 0, "running": 1, "total": 9},
             "schema": 1, "tasks": [{"binary": false, "category": "www-client", "cpv": "www-client/firefox-128.0", "kind": "build", "merge_wait": false, "phase": "compile", "pf": "firefox-128.0"}],
             "timestamp": 1795570800.5, "type": "snapshot"}
            JSON
            sleep 2
            rm -f '{{Root}}/run/portage/emerge-4242.json'
            exit 0
            """);

        var progress = await ProgressOfBuildAsync(script, "www-client/firefox");

        File.ReadAllText(Path.Combine(work.FullName, "features")).Trim().ShouldBe("observability");
        progress.ShouldContain(ProgressLines.Prefix + """{"package":"www-client/firefox-128.0","phase":"compile","done":2,"total":9}""");
    }

    private void PortageWithObservability()
    {
        var emergeModule = Path.Combine(Root, "usr", "lib", "python3.13", "site-packages", "_emerge");
        Directory.CreateDirectory(emergeModule);
        File.WriteAllText(Path.Combine(emergeModule, "_observability.py"), "");
    }

    private static string Snapshot(string cpv, int completed, int total) =>
        $$"""{"emerge_pid": 4242, "jobs": {"completed": {{completed}}, "total": {{total}}}, "tasks": [{"cpv": "{{cpv}}", "phase": "compile"}], "timestamp": 1795570800.5, "type": "snapshot"}""";

    [Fact]
    public async Task A_killed_emerges_snapshot_left_on_the_root_volume_is_not_this_steps_progress()
    {
        PortageWithObservability();
        var stale = Path.Combine(Root, "run", "portage", "emerge-31337.json");
        Directory.CreateDirectory(Path.GetDirectoryName(stale)!);
        File.WriteAllText(stale, Snapshot("www-client/firefox-128.0", 3, 9));
        File.SetLastWriteTimeUtc(stale, DateTime.UtcNow.AddHours(-2)); // the emerge of an attempt killed two hours ago
        var progress = await ProgressOfBuildAsync(StandIn("01-success-build", 0), "@world");

        progress.ShouldNotContain("firefox");
        progress.ShouldContain("dev-libs/libgreet-2.1");
        progress.Split('\n', StringSplitOptions.RemoveEmptyEntries)[^1].ShouldBe(ProgressLines.Prefix + """{"package":null,"phase":null,"done":4,"total":4}""");
    }

    [Fact]
    public async Task The_last_progress_of_a_finished_build_counts_every_package_even_when_portages_last_snapshot_did_not()
    {
        PortageWithObservability();
        // Portage's last snapshot is written while the package is still being merged: completed 0 of 1.
        var script = EmergeScript($$"""
            #!/bin/sh
            mkdir -p '{{Root}}/run/portage'
            echo '{{Snapshot("app-misc/greeter-1.0", 0, 1)}}' > '{{Root}}/run/portage/emerge-4242.json'
            echo '>>> Emerging (1 of 1) app-misc/greeter-1.0::demo'
            sleep 1.5
            echo '>>> Completed (1 of 1) app-misc/greeter-1.0::demo'
            exit 0
            """);

        var progress = await ProgressOfBuildAsync(script, "app-misc/greeter");

        var lines = progress.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        lines.ShouldContain(ProgressLines.Prefix + """{"package":"app-misc/greeter-1.0","phase":"compile","done":0,"total":1}""");
        lines[^1].ShouldBe(ProgressLines.Prefix + """{"package":null,"phase":null,"done":1,"total":1}""");
    }

    [Theory]
    [InlineData("17-build-failure-compile", 1, ExitCodes.NeedsOperator, "build-failure")]
    [InlineData("09-keyword-change-autounmask", 1, ExitCodes.NeedsOperator, "keyword-change-required")]
    [InlineData("05-circular-dependency", 1, ExitCodes.NeedsOperator, "circular-dependency")]
    [InlineData("15-fetch-failure", 1, ExitCodes.Transient, "fetch-failure")]
    public async Task Each_outcome_class_maps_to_the_exit_code_the_operator_acts_on(string fixture, int emergeExit, int agentExit, string outcome)
    {
        var (exitCode, report, _) = await RunAsync(StandIn(fixture, emergeExit));

        exitCode.ShouldBe(agentExit);
        WireOutcome(report).ShouldBe(outcome);
        report.EmergeExitCode.ShouldBe(emergeExit);
    }

    /// <summary>The outcome as the report spells it on the wire, which the fixtures' expectations spell too.</summary>
    private static string? WireOutcome(AgentReport report) => JsonDocument.Parse(report.ToJson()).RootElement.GetProperty("outcome").GetString();

    public static TheoryData<string> AllFixtures() =>
        new(Directory.GetFiles(Fixtures.PathOf("portage", "logs"), "*.log").Select(Path.GetFileNameWithoutExtension).Order()!);

    [Theory]
    [MemberData(nameof(AllFixtures))]
    public async Task Every_outcome_real_portage_printed_is_reported_with_its_class_and_exit_code(string fixture)
    {
        var expected = JsonDocument.Parse(File.ReadAllText(Fixtures.PathOf("portage", "logs", fixture + ".expected.json"))).RootElement;
        var emergeExit = expected.GetProperty("exitCode").GetInt32();
        var outcome = expected.GetProperty("class").GetString();

        var (exitCode, report, _) = await RunAsync(StandIn(fixture, emergeExit));

        WireOutcome(report).ShouldBe(outcome, "the report's outcome as the operator reads it");
        exitCode.ShouldBe(outcome switch
        {
            "success" => ExitCodes.Success,
            "fetch-failure" or "interrupted" => ExitCodes.Transient,
            _ => ExitCodes.NeedsOperator,
        });
        Encoding.UTF8.GetByteCount(report.ToTerminationMessage()).ShouldBeLessThanOrEqualTo(4096);
    }

    [Fact]
    public async Task Sigterm_is_forwarded_to_emerge_and_the_run_is_reported_interrupted_in_its_phase()
    {
        var partial = Path.Combine(work.FullName, "partial.log");
        var lines = File.ReadAllLines(Fixtures.PathOf("portage", "logs", "21-killed-sigterm.log"));
        File.WriteAllLines(partial, lines.TakeWhile(l => !l.StartsWith("Exiting", StringComparison.Ordinal)));
        var script = EmergeScript($"""
            #!/bin/sh
            trap 'echo "Exiting on signal 15"; exit 143' TERM
            cat '{partial}'
            while :; do sleep 0.1; done
            """);
        using var stop = new CancellationTokenSource();
        var run = RunAsync(script, stop.Token);
        await BuildLogs.WaitForAsync(Root, "compiling unit 5/60", run, TimeSpan.FromSeconds(20));

        await stop.CancelAsync();
        var (exitCode, report, console) = await run;

        exitCode.ShouldBe(ExitCodes.Transient);
        report.Outcome.ShouldBe(Outcome.Interrupted);
        report.Phase.ShouldBe("compile");
        report.Atoms.ShouldBe(["app-misc/slowpoke-1.0"]);
        console.ShouldContain("Exiting on signal 15");
    }

    [Fact]
    public async Task Kernel_requirement_of_the_merged_packages_is_reported()
    {
        var lib = Path.Combine(Root, "usr", "lib64");
        Directory.CreateDirectory(lib);
        File.Copy(Fixtures.PathOf("portage", "elf", "libkver-abi-3.17.0.so"), Path.Combine(lib, "libkver.so.0"));
        var vdb = Path.Combine(Root, "var", "db", "pkg", "dev-libs", "libkver-0.3");
        Directory.CreateDirectory(vdb);
        File.WriteAllText(Path.Combine(vdb, "CONTENTS"), "obj /usr/lib64/libkver.so.0 6f1ed002ab5595859014ebf0951522d9 1795570785\n");

        var (exitCode, report, _) = await RunAsync(StandIn("03-success-usepkg-reuse", 0));

        exitCode.ShouldBe(ExitCodes.Success);
        report.BinariesReused.ShouldBe(4);
        report.RequiredKernel.ShouldBe("3.17.0");
        report.KernelFiles.ShouldBe(["/usr/lib64/libkver.so.0"]);
    }

    [Theory]
    [InlineData("Slot", "app-misc/nightly:0 ~amd64")]
    [InlineData("Version", "=app-misc/nightly-0.9 ~amd64")]
    [InlineData("Package", "app-misc/nightly ~amd64")]
    public async Task Keyword_changes_are_proposed_at_the_builders_scope_with_the_slot_from_the_roots_repositories(string scope, string line)
    {
        // The repository the log was made with, where the root has its repositories.
        var repository = Path.Combine(Root, "var", "db", "repos", "demo");
        foreach (var file in Directory.EnumerateFiles(Fixtures.PathOf("portage", "ebuild-repo"), "*", SearchOption.AllDirectories))
        {
            var copy = Path.Combine(repository, Path.GetRelativePath(Fixtures.PathOf("portage", "ebuild-repo"), file));
            Directory.CreateDirectory(Path.GetDirectoryName(copy)!);
            File.Copy(file, copy);
        }

        var (exitCode, report, _) = await RunAsync(StandIn("09-keyword-change-autounmask", 1), default, "--keyword-scope", scope);

        exitCode.ShouldBe(ExitCodes.NeedsOperator);
        report.Fixes.ShouldHaveSingleItem().Line.ShouldBe(line);
    }

    [Fact]
    public async Task Bad_input_fails_fast_with_one_line_and_the_agent_error_code()
    {
        var binary = AgentBinary();
        var termination = Path.Combine(work.FullName, "termination-log");
        foreach (var (args, says) in new[]
                 {
                     (new[] { "frobnicate" }, "gentoo-agent: unknown step 'frobnicate': expected one of configure, sync, update, bootstrap, check, build, shell, publish"),
                     (["build", "--root", Root], "gentoo-agent: build needs at least one --package (an atom or a set such as @world)"),
                     (["build", "--package", "@world", "--keyword-scope", "slot"], "gentoo-agent: --keyword-scope slot: expected Version, Slot or Package"),
                     (["check", "--root", "/no/such/volume", "--termination-log", termination], "gentoo-agent: the root volume /no/such/volume is missing: is the PersistentVolumeClaim mounted there?"),
                 })
        {
            var start = new ProcessStartInfo(binary) { RedirectStandardError = true, RedirectStandardOutput = true };
            foreach (var arg in args)
            {
                start.ArgumentList.Add(arg);
            }

            using var process = Process.Start(start)!;
            var stderr = await process.StandardError.ReadToEndAsync();
            await process.WaitForExitAsync();

            process.ExitCode.ShouldBe(ExitCodes.AgentError);
            stderr.TrimEnd('\n').ShouldBe(says);
        }

        using var report = JsonDocument.Parse(File.ReadAllText(termination));
        report.RootElement.GetProperty("result").GetString().ShouldBe("agent-error");
        report.RootElement.GetProperty("error").GetString()!.ShouldContain("/no/such/volume");
    }

    /// <summary>The self-contained agent executable the Agent project built (configuration and layout of this test build).</summary>
    private static string AgentBinary()
    {
        var configuration = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd('/')).Parent!.Name;
        var binary = Path.Combine(Fixtures.Root, "..", "..", "src", "Agent", "bin", configuration, "net10.0", "linux-x64", "gentoo-agent");
        File.Exists(binary).ShouldBeTrue($"the agent must be built at {binary}");
        return binary;
    }
}
