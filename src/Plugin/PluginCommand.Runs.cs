using System.CommandLine;
using System.Globalization;
using Gentoo.Entities.V1Alpha1;
using Gentoo.Protocol;
using k8s;
using k8s.Autorest;
using k8s.Models;

namespace Gentoo.Plugin;

/// <summary>How a verb that waits for a run says it ended, in its exit code (scripts branch on it).</summary>
public static class RunExitCodes
{
    public const int Succeeded = 0;

    /// <summary>The run failed, or the plugin could not do what was asked (one line on stderr says which).</summary>
    public const int Failed = 1;

    /// <summary>The run waits for a person: kubectl gentoo explain RUN says why.</summary>
    public const int AwaitingPerson = 3;

    /// <summary>--timeout passed before the run ended; it goes on.</summary>
    public const int TimedOut = 4;
}

/// <summary>kubectl gentoo's run verbs: build (with --wait and --follow), delete, retry; BUILDER@latest names a builder's newest run.</summary>
public static partial class PluginCommand
{
    private const string Latest = "@latest";

    private static Command Build(TextWriter output, TextWriter error)
    {
        var builder = new Argument<string>("BUILDER") { Description = "The GentooBuilder to build on" };
        var atoms = new Argument<string[]>("ATOMS") { Description = "Packages or sets to build (default @world)", Arity = ArgumentArity.ZeroOrMore };
        var wait = new Option<bool>("--wait", "-w") { Description = "Print the run's progress (package, phase, n of m) until it ends; the exit code says how (0 succeeded, 1 failed, 3 waits for a person, 4 timed out)" };
        var follow = new Option<bool>("--follow", "-f") { Description = "Like --wait, streaming each attempt's emerge output instead of progress lines" };
        var timeout = WaitOptions.Timeout("How long --wait or --follow waits", TimeSpan.FromHours(12));
        var command = new Command("build", "Create a BuildRun on a builder") { builder, atoms, wait, follow, timeout };
        command.SetAction((result, ct) => RunAsync(result, error, async cluster =>
        {
            var name = result.GetValue(builder)!;
            await cluster.RequireAsync<GentooBuilder>(name, ct);
            var packages = result.GetValue(atoms) is { Length: > 0 } given ? given : ["@world"];
            var created = await cluster.CreateAsync(new BuildRun
            {
                Metadata = new V1ObjectMeta { GenerateName = name + "-", NamespaceProperty = cluster.Namespace },
                Spec = new BuildRunSpec { BuilderRef = new LocalReference { Name = name }, Packages = packages },
            }, ct);
            await output.WriteLineAsync($"buildrun.{GroupVersion.Group}/{created.Name()} created");
            if (result.GetValue(wait) || result.GetValue(follow))
            {
                return await WaitForRunAsync(cluster, created.Name(), result.GetValue(follow), result.GetValue(timeout), output, ct);
            }

            return RunExitCodes.Succeeded;
        }));
        AddExamples(command,
            "kubectl gentoo build desktop www-client/firefox --wait",
            "kubectl gentoo build desktop @world --follow --timeout 6h");
        return command;
    }

    /// <summary>
    /// Follows a run until it ends or waits for a person: a line per change of phase or progress, or (with
    /// <paramref name="follow"/>) each attempt's log as it is written. Returns the exit code that says how it ended.
    /// </summary>
    private static async Task<int> WaitForRunAsync(Cluster cluster, string name, bool follow, TimeSpan timeout, TextWriter output, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow + timeout;
        string? said = null;
        var followed = new HashSet<string>(StringComparer.Ordinal);
        while (true)
        {
            var run = await cluster.RequireAsync<BuildRun>(name, ct);
            var status = run.Status;
            var phase = status?.Phase;
            if (follow && status?.Attempts?.LastOrDefault()?.Pod is { } pod && phase == BuildRunPhase.Running && followed.Add(pod))
            {
                await output.WriteLineAsync($"--- attempt {status.Attempts.Count} ({pod})");
                await StreamLogAsync(cluster, pod, follow: true, output, ct);
                continue;
            }

            var line = phase switch
            {
                BuildRunPhase.Running when !follow && status?.Progress is { Total: > 0 } progress => $"{phase}: {StatusRow.Progress(progress)}",
                _ => $"{phase?.ToString() ?? "Pending"}: {Message(status)}",
            };
            if (line != said)
            {
                await output.WriteLineAsync(line);
                await output.FlushAsync(ct);
                said = line;
            }

            switch (phase)
            {
                case BuildRunPhase.Succeeded:
                    return RunExitCodes.Succeeded;
                case BuildRunPhase.Failed:
                    return RunExitCodes.Failed;
                case BuildRunPhase.AwaitingOperator or BuildRunPhase.Stalled:
                    await output.WriteLineAsync($"see: kubectl gentoo explain {name}, then kubectl gentoo resume {name}");
                    return RunExitCodes.AwaitingPerson;
            }

            if (DateTime.UtcNow > deadline)
            {
                await output.WriteLineAsync($"BuildRun {name} did not end within {Entities.Schema.Durations.Format(timeout)}; it goes on (kubectl gentoo status)");
                return RunExitCodes.TimedOut;
            }

            await Task.Delay(TimeSpan.FromSeconds(2), ct);
        }
    }

    private static string Message(BuildRunStatus? status)
    {
        var conditions = status?.Conditions;
        var shown = conditions?.FirstOrDefault(c => c.Type == ConditionTypes.AwaitingOperator && c.Status == "True")
            ?? conditions?.FirstOrDefault(c => c.Type == ConditionTypes.Stalled && c.Status == "True")
            ?? conditions?.FirstOrDefault(c => c.Type == ConditionTypes.Reconciling && c.Status == "True")
            ?? conditions?.FirstOrDefault(c => c.Type == ConditionTypes.Ready);
        return shown?.Message ?? "waiting for the operator";
    }

    /// <summary>A pod's build container log, to its end (or as it is written, with <paramref name="follow"/>).</summary>
    private static async Task StreamLogAsync(Cluster cluster, string pod, bool follow, TextWriter output, CancellationToken ct)
    {
        await using var stream = await cluster.Kube.CoreV1.ReadNamespacedPodLogAsync(pod, cluster.Namespace, container: AgentPod.Container, follow: follow, cancellationToken: ct);
        using var reader = new StreamReader(stream);
        var buffer = new char[8192];
        int read;
        while ((read = await reader.ReadAsync(buffer, ct)) > 0)
        {
            await output.WriteAsync(buffer.AsMemory(0, read), ct);
        }

        await output.FlushAsync(ct);
    }

    /// <summary>A run named as given, or for BUILDER@latest that builder's newest run.</summary>
    private static async Task<BuildRun> ResolveRunAsync(Cluster cluster, string name, CancellationToken ct)
    {
        if (!name.EndsWith(Latest, StringComparison.Ordinal))
        {
            return await cluster.RequireAsync<BuildRun>(name, ct);
        }

        var builder = name[..^Latest.Length];
        await cluster.RequireAsync<GentooBuilder>(builder, ct);
        return (await cluster.ListAsync<BuildRun>(allNamespaces: false, ct))
            .Where(r => r.Spec.BuilderRef.Name == builder)
            .MaxBy(r => (r.Metadata.CreationTimestamp ?? DateTime.MinValue, r.Name()))
            ?? throw new PluginException($"GentooBuilder {builder} has no BuildRun yet");
    }

    private static Argument<string> RunArgument() => new("RUN") { Description = "The BuildRun, or BUILDER@latest for a builder's newest run" };

    private static Command DeleteRun(TextWriter output, TextWriter error)
    {
        var run = RunArgument();
        var command = new Command("delete", "Delete a BuildRun (a running build stops; what it built stays in the PKGDIR)") { run };
        command.SetAction((result, ct) => RunAsync(result, error, async cluster =>
        {
            var found = await ResolveRunAsync(cluster, result.GetValue(run)!, ct);
            await cluster.Kube.CustomObjects.DeleteNamespacedCustomObjectAsync(GroupVersion.Group, GroupVersion.Version, cluster.Namespace, BuildRun.KubePlural, found.Name(), cancellationToken: ct);
            await output.WriteLineAsync($"buildrun.{GroupVersion.Group}/{found.Name()} deleted");
        }));
        AddExamples(command, "kubectl gentoo delete firefox-x7k2p", "kubectl gentoo delete desktop@latest");
        return command;
    }

    private static Command Stop(TextWriter output, TextWriter error)
    {
        var run = RunArgument();
        var command = new Command("stop", "Stop a BuildRun gracefully: emerge gets SIGTERM and finishes its phase, what it built stays; the run ends Failed (Stopped)") { run };
        command.SetAction((result, ct) => RunAsync(result, error, async cluster =>
        {
            var found = await ResolveRunAsync(cluster, result.GetValue(run)!, ct);
            if (found.Status?.Phase.IsFinished() == true)
            {
                throw new PluginException($"BuildRun {found.Name()} has already ended (phase {found.Status.Phase})");
            }

            await cluster.AnnotateAsync<BuildRun>(found.Name(), new Dictionary<string, string> { [RequestAnnotations.Stop] = DateTime.UtcNow.ToString("O", CultureInfo.InvariantCulture) }, ct);
            await output.WriteLineAsync($"buildrun.{GroupVersion.Group}/{found.Name()} stopping (kubectl gentoo status shows when it has)");
        }));
        AddExamples(command, "kubectl gentoo stop firefox-x7k2p", "kubectl gentoo stop plasma-desktop@latest");
        return command;
    }

    private static Command Retry(TextWriter output, TextWriter error)
    {
        var run = RunArgument();
        var command = new Command("retry", "Run a finished BuildRun again: a new run with the same spec (a run waiting for a person is resumed instead)") { run };
        command.SetAction((result, ct) => RunAsync(result, error, async cluster =>
        {
            var found = await ResolveRunAsync(cluster, result.GetValue(run)!, ct);
            if (!found.Status?.Phase.IsFinished() ?? true)
            {
                throw new PluginException(found.Status?.Phase is BuildRunPhase.AwaitingOperator or BuildRunPhase.Stalled
                    ? $"BuildRun {found.Name()} waits for a person: kubectl gentoo resume {found.Name()}"
                    : $"BuildRun {found.Name()} has not finished (phase {found.Status?.Phase?.ToString() ?? "none yet"})");
            }

            var created = await cluster.CreateAsync(new BuildRun
            {
                Metadata = new V1ObjectMeta { GenerateName = found.Spec.BuilderRef.Name + "-", NamespaceProperty = cluster.Namespace, Annotations = new Dictionary<string, string> { [RetryOfAnnotation] = found.Name() } },
                Spec = found.Spec,
            }, ct);
            await output.WriteLineAsync($"buildrun.{GroupVersion.Group}/{created.Name()} created (a retry of {found.Name()})");
        }));
        AddExamples(command, "kubectl gentoo retry desktop@latest");
        return command;
    }

    /// <summary>On a run made by kubectl gentoo retry: the run it repeats.</summary>
    public const string RetryOfAnnotation = GroupVersion.Group + "/retry-of";

    private static void AddExamples(Command command, params string[] examples) =>
        command.Description += "\n\nExamples:\n" + string.Concat(examples.Select(e => "  " + e + "\n")).TrimEnd('\n');
}
