using Gentoo.Protocol;
using System.Globalization;
using System.Text;
using Gentoo.Portage.Tests;

namespace Gentoo.Agent.Tests;

/// <summary>The bootstrap, update, sync and shell steps with stand-in Portage commands that replay real output.</summary>
public sealed class StepTests : IDisposable
{
    private readonly DirectoryInfo work = Directory.CreateTempSubdirectory("agent-steps-");

    public void Dispose() => work.Delete(recursive: true);

    private string Root => Path.Combine(work.FullName, "root");

    private string Calls => Path.Combine(work.FullName, "calls");

    /// <summary>A stand-in that records its arguments and the step's temporary USE file, then replays a log per call.</summary>
    private string StandIn(string name, params (string Fixture, int Exit)[] calls)
    {
        var script = Path.Combine(work.FullName, name);
        var cases = new StringBuilder();
        for (var i = 0; i < calls.Length; i++)
        {
            cases.Append(CultureInfo.InvariantCulture, $"  {i + 1}) cat '{Fixtures.PathOf("portage", "logs", calls[i].Fixture + ".log")}'; exit {calls[i].Exit} ;;\n");
        }

        File.WriteAllText(script, $$"""
            #!/bin/sh
            n=$(( $(cat '{{work.FullName}}/{{name}}.count' 2>/dev/null || echo 0) + 1 ))
            echo $n > '{{work.FullName}}/{{name}}.count'
            echo "{{name}} $*" >> '{{Calls}}'
            cat '{{Root}}/etc/portage/package.use/zz-gentoo-builder-step' 2>/dev/null | grep -v '^#' >> '{{Calls}}'
            case $n in
            {{cases}}  *) exit 0 ;;
            esac
            """);
        File.SetUnixFileMode(script, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        return script;
    }

    private async Task<(int ExitCode, AgentReport Report)> RunAsync(string[] args, CancellationToken stop = default)
    {
        Directory.CreateDirectory(Root);
        var options = AgentOptions.Parse([.. args, "--root", Root, "--no-chroot"]);
        using var console = new MemoryStream();
        return await new BuilderAgent(options, console, TimeProvider.System).RunAsync(stop);
    }

    private string Plan(string json)
    {
        var path = Path.Combine(work.FullName, "bootstrap.json");
        File.WriteAllText(path, json);
        return path;
    }

    private const string TwoSteps = """
        {"steps": [
          {"name": "freetype-without-harfbuzz", "atoms": ["media-libs/freetype"], "use": ["-harfbuzz"]},
          {"name": "harfbuzz", "atoms": ["media-libs/harfbuzz"]}
        ], "check": {"enabled": true}}
        """;

    [Fact]
    public async Task Bootstrap_runs_its_steps_in_order_with_temporary_use_then_the_check()
    {
        var emerge = StandIn("emerge", ("01-success-build", 0), ("02-success-rebuild-oneshot", 0), ("03-success-usepkg-reuse", 0));

        var (exitCode, report) = await RunAsync(["bootstrap", "--plan", Plan(TwoSteps), "--emerge", emerge]);

        exitCode.ShouldBe(ExitCodes.Success);
        report.CompletedSteps.ShouldBe(["freetype-without-harfbuzz", "harfbuzz"]);
        File.ReadAllLines(Calls).ShouldBe([
            "emerge --buildpkg --usepkg --ask=n --oneshot media-libs/freetype",
            "media-libs/freetype -harfbuzz",
            "emerge --buildpkg --usepkg --ask=n --oneshot media-libs/harfbuzz",
            "emerge --ask=n --pretend --update --deep --newuse @world",
        ]);
        File.Exists(Path.Combine(Root, "etc", "portage", "package.use", "zz-gentoo-builder-step")).ShouldBeFalse();
    }

    [Fact]
    public async Task Failing_bootstrap_step_stops_the_bootstrap_and_names_the_step()
    {
        var emerge = StandIn("emerge", ("01-success-build", 0), ("05-circular-dependency", 1));

        var (exitCode, report) = await RunAsync(["bootstrap", "--plan", Plan(TwoSteps), "--emerge", emerge]);

        exitCode.ShouldBe(ExitCodes.NeedsOperator);
        report.Outcome.ShouldBe(Outcome.CircularDependency);
        report.BootstrapStep.ShouldBe("harfbuzz");
        report.CompletedSteps.ShouldBe(["freetype-without-harfbuzz"]);
        report.Fixes.ShouldHaveSingleItem().Line.ShouldBe("=dev-libs/libmarkup-3.0 -doc");
        File.ReadAllLines(Calls).Count(l => l.StartsWith("emerge", StringComparison.Ordinal)).ShouldBe(2, "no step runs after a failed one");
    }

    [Fact]
    public async Task Update_syncs_then_shows_what_would_change_and_reports_what_needs_a_person()
    {
        var emaint = StandIn("emaint", ("01-success-build", 0));
        var emerge = StandIn("emerge", ("09-keyword-change-autounmask", 1));

        var (exitCode, report) = await RunAsync(["update", "--emaint", emaint, "--emerge", emerge]);

        exitCode.ShouldBe(ExitCodes.NeedsOperator);
        report.Outcome.ShouldBe(Outcome.KeywordChangeRequired);
        File.ReadAllLines(Calls).ShouldBe(["emaint --auto sync", "emerge --ask=n --pretend --verbose --update --deep --newuse @world"]);
    }

    [Fact]
    public async Task Update_says_which_of_its_two_stages_it_is_in_as_progress_lines()
    {
        var emaint = StandIn("emaint", ("01-success-build", 0));
        var emerge = StandIn("emerge", ("01-success-build", 0));
        Directory.CreateDirectory(Root);
        using var progress = new StringWriter();
        using var console = new MemoryStream();

        await new BuilderAgent(AgentOptions.Parse(["update", "--emaint", emaint, "--emerge", emerge, "--root", Root, "--no-chroot"]), console, TimeProvider.System, progress)
            .RunAsync(CancellationToken.None);

        var stages = progress.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(ProgressLines.Last).Where(p => p!.Package is null && p.Phase is not null);
        stages.Select(p => (p!.Phase, p.Done, p.Total)).ShouldBe([("sync", 0, 2), ("world update preview", 1, 2)]);
    }

    [Fact]
    public async Task Failed_sync_is_transient_and_stops_the_update()
    {
        var emaint = StandIn("emaint", ("15-fetch-failure", 1));
        var emerge = StandIn("emerge");

        var (exitCode, report) = await RunAsync(["update", "--emaint", emaint, "--emerge", emerge]);

        exitCode.ShouldBe(ExitCodes.Transient);
        report.Outcome.ShouldBe(Outcome.SyncFailure);
        File.ReadAllLines(Calls).ShouldBe(["emaint --auto sync"]);
    }

    [Fact]
    public async Task Build_with_sync_syncs_first_and_a_failed_sync_builds_nothing()
    {
        var emaint = StandIn("emaint", ("01-success-build", 0), ("15-fetch-failure", 1));
        var emerge = StandIn("emerge", ("01-success-build", 0));

        var (exitCode, _) = await RunAsync(["build", "--sync", "--package", "@world", "--emaint", emaint, "--emerge", emerge]);
        exitCode.ShouldBe(ExitCodes.Success);
        File.ReadAllLines(Calls)[0].ShouldBe("emaint --auto sync");
        File.ReadAllLines(Calls)[1].ShouldStartWith("emerge ");

        var (failedExit, failed) = await RunAsync(["build", "--sync", "--package", "@world", "--emaint", emaint, "--emerge", emerge]);
        failedExit.ShouldBe(ExitCodes.Transient);
        failed.Outcome.ShouldBe(Outcome.SyncFailure);
        File.ReadAllLines(Calls).Length.ShouldBe(3);
    }

    [Fact]
    public async Task Shell_keeps_a_ready_root_until_the_pod_is_stopped()
    {
        using var stop = new CancellationTokenSource();
        var run = RunAsync(["shell"], stop.Token);
        await Task.Delay(200);
        run.IsCompleted.ShouldBeFalse();

        await stop.CancelAsync();

        (await run).ExitCode.ShouldBe(ExitCodes.Success);
    }

    [Fact]
    public void Bad_bootstrap_plan_is_refused_naming_the_step()
    {
        var plan = Plan("""{"steps": [{"name": "x", "atoms": ["freetype"]}]}""");

        Should.Throw<Config.ConfigException>(() => Config.BootstrapPlan.Load(plan)).Message.ShouldContain("steps[0] (x): atom 'freetype'");
    }
}
