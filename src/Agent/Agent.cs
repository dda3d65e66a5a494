using System.Globalization;
using Gentoo.Agent.Config;
using Gentoo.Agent.Emerge;
using Gentoo.Agent.Kernel;
using Gentoo.Agent.Reports;
using Gentoo.Agent.Root;
using Gentoo.Portage.Emerge;

namespace Gentoo.Agent;

/// <summary>Runs one step in the Gentoo root and reports: the work the proof of concept's Makefile targets did.</summary>
public sealed class BuilderAgent(AgentOptions options, Stream console, TimeProvider clock)
{
    public async Task<(int ExitCode, AgentReport Report)> RunAsync(CancellationToken stop)
    {
        var started = clock.GetUtcNow();
        if (!Directory.Exists(options.Root))
        {
            throw new UsageException($"the root volume {options.Root} is missing: is the PersistentVolumeClaim mounted there?");
        }

        using var gentoo = options.NoChroot ? null : new GentooRoot(options.Root, line => WriteLineAsync(line).GetAwaiter().GetResult());
        if (gentoo is not null)
        {
            gentoo.EnsurePopulated(options.Source);
            gentoo.Mount(new RootVolumes(options.Binpkgs, options.Distfiles, options.Repos));
        }

        if (options.ConfigDirectory is not null)
        {
            var changed = ManagedConfig.Apply(options.ConfigDirectory, options.Root);
            await WriteLineAsync($">>> gentoo-builder: configuration applied ({changed.Count} file(s) changed)");
        }

        if (options.Step == "configure")
        {
            return (ExitCodes.Success, new AgentReport { Step = options.Step, Result = "success", Started = started, Finished = clock.GetUtcNow() });
        }

        var emergeArgs = options.Step switch
        {
            "build" => EmergeInvocation.Build(new BuildRequest(options.Packages, options.EmergeArgs, options.KeepGoing)),
            _ => EmergeInvocation.Check(options.EmergeArgs.Count > 0 ? options.EmergeArgs : ["--pretend", "--update", "--deep", "--newuse", "@world"]),
        };
        var stamp = started.UtcDateTime.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture);
        var logDirectory = Path.Combine(options.Root, "var", "log", "gentoo-builder");
        var log = Path.Combine(logDirectory, $"{options.Step}-{stamp}.log");
        var (file, args) = options.NoChroot
            ? (options.Emerge, emergeArgs)
            : ("chroot", (IReadOnlyList<string>)[options.Root, "/bin/sh", "-c", "exec \"$0\" \"$@\" 2>&1", options.Emerge, .. emergeArgs]);
        var classifier = new EmergeClassifier();
        var result = await new CommandRunner(console, log, options.GracePeriod).RunAsync(file, args, EmergeInvocation.Environment(options.Cpus), classifier, stop);
        var outcome = classifier.Complete(result.Interrupted ? 143 : result.ExitCode);
        var (exitCode, meaning) = Meaning(outcome);
        var kernel = MergedPackages.Scan(options.Root, outcome.Merged);
        var report = AgentReport.FromOutcome(options.Step, meaning, outcome, result.ExitCode) with
        {
            Log = log,
            RequiredKernel = kernel.Required?.ToString(),
            KernelFiles = kernel.RequiringFiles.Select(f => "/" + Path.GetRelativePath(options.Root, f.Path)).Take(20).ToList(),
            Started = started,
            Finished = clock.GetUtcNow(),
        };
        await File.WriteAllTextAsync(Path.Combine(logDirectory, $"{options.Step}-{stamp}.json"), report.ToJson(), CancellationToken.None);
        return (exitCode, report);
    }

    /// <summary>What the emerge outcome means for the operator: done, ask a person, or retry.</summary>
    internal static (int ExitCode, string Meaning) Meaning(EmergeOutcome outcome) => outcome.Class switch
    {
        OutcomeClass.Success => (ExitCodes.Success, "success"),
        OutcomeClass.FetchFailure or OutcomeClass.Interrupted => (ExitCodes.Transient, "transient"),
        _ => (ExitCodes.NeedsOperator, "needs-operator"),
    };

    private async Task WriteLineAsync(string line)
    {
        var bytes = System.Text.Encoding.UTF8.GetBytes(line + "\n");
        await console.WriteAsync(bytes);
        await console.FlushAsync();
    }
}
