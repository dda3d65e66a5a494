using System.CommandLine;
using System.Globalization;
using System.Text;
using Gentoo.Entities.V1Alpha1;
using Gentoo.Protocol;
using k8s;
using k8s.Autorest;
using k8s.Models;

namespace Gentoo.Plugin;

/// <summary>
/// kubectl gentoo: what a person does with builders and runs, over the current kubeconfig context as kubectl does
/// (--kubeconfig, --context, -n). Requests are annotations the operator acts on once, so GitOps never fights them.
/// </summary>
public static partial class PluginCommand
{
    private static readonly Option<string?> Kubeconfig = new("--kubeconfig") { Description = "Path to the kubeconfig file (default: KUBECONFIG, then ~/.kube/config)", Recursive = true };
    private static readonly Option<string?> Context = new("--context") { Description = "The kubeconfig context to use", Recursive = true };
    private static readonly Option<string?> Namespace = new("--namespace", "-n") { Description = "The namespace (default: the context's)", Recursive = true };

    public static RootCommand Create(TextWriter output, TextWriter error)
    {
        var root = new RootCommand("kubectl gentoo: Gentoo builders and their builds on this cluster") { Kubeconfig, Context, Namespace };
        root.Subcommands.Add(Status(output, error));
        root.Subcommands.Add(Resume(output, error));
        root.Subcommands.Add(Build(output, error));
        root.Subcommands.Add(Update(output, error));
        root.Subcommands.Add(Request(output, error, "snapshot", RequestAnnotations.Snapshot, "take a VolumeSnapshot of the builder's root volume now"));
        root.Subcommands.Add(Logs(output, error));
        root.Subcommands.Add(Shell(output, error));
        root.Subcommands.Add(Explain(output, error));
        root.Subcommands.Add(Binhost(output, error));
        root.Subcommands.Add(ReleasesList(output, error));
        root.Subcommands.Add(Publish(output, error));
        root.Subcommands.Add(Keep(output, error));
        root.Subcommands.Add(Diff(output, error));
        root.Subcommands.Add(Stop(output, error));
        root.Subcommands.Add(DeleteRun(output, error));
        root.Subcommands.Add(Retry(output, error));
        root.Subcommands.Add(VersionCommand(output, error));
        root.Subcommands.Add(CheckCommand(output, error));
        root.Subcommands.Add(Completion(output, error));
        root.Subcommands.Add(Complete(output));
        foreach (var argument in root.Subcommands.SelectMany(c => c.Arguments))
        {
            if (argument.Name == "BUILDER")
            {
                argument.CompletionSources.Add(BuilderNames);
            }
            else if (argument.Name == "RUN")
            {
                argument.CompletionSources.Add(RunNames);
            }
        }

        return root;
    }

    private static Command Status(TextWriter output, TextWriter error)
    {
        var all = new Option<bool>("--all-namespaces", "-A") { Description = "Every namespace" };
        var format = Output.Option();
        var watch = new Option<bool>("--watch", "-w") { Description = "After the table, print each row again whenever it changes (Ctrl-C stops)" };
        var command = new Command("status", "Every bootstrap, builder and run with its phase and conditions") { all, format, watch };
        command.SetAction((result, ct) => RunAsync(result, error, async cluster =>
        {
            var everywhere = result.GetValue(all);
            var how = result.GetValue(format);
            if (result.GetValue(watch) && how is not (OutputFormat.Table or OutputFormat.Wide))
            {
                throw new PluginException("--watch prints table rows: use it without -o, or with -o wide");
            }

            var objects = await StatusObjectsAsync(cluster, everywhere, ct);
            if (how is OutputFormat.Json or OutputFormat.Yaml)
            {
                await output.WriteAsync(Output.Objects(objects, how));
                return;
            }

            if (how == OutputFormat.Name)
            {
                await output.WriteAsync(string.Concat(objects.Select(o => Output.Name(o) + "\n")));
                return;
            }

            var wide = how == OutputFormat.Wide;
            var header = StatusRow.Header(wide);
            var rows = objects.Select(o => StatusRow.Of(o, wide, DateTime.UtcNow)).ToList();
            await output.WriteAsync(Output.Table([header, .. rows]));
            if (!result.GetValue(watch))
            {
                return;
            }

            // Rows in the widths of the first table, as kubectl get --watch prints them: one line per change.
            var widths = Enumerable.Range(0, header.Length).Select(i => rows.Prepend(header).Max(r => r[i].Length)).ToArray();
            var shown = rows.ToDictionary(r => string.Join('/', r[0], r[1], r[2]), r => string.Join('\t', r.Where((_, i) => i != StatusRow.AgeColumn(wide))));
            while (!ct.IsCancellationRequested)
            {
                await Task.Delay(TimeSpan.FromSeconds(2), ct).ContinueWith(_ => { }, CancellationToken.None);
                if (ct.IsCancellationRequested)
                {
                    break;
                }

                foreach (var row in (await StatusObjectsAsync(cluster, everywhere, ct)).Select(o => StatusRow.Of(o, wide, DateTime.UtcNow)))
                {
                    var key = string.Join('/', row[0], row[1], row[2]);
                    var value = string.Join('\t', row.Where((_, i) => i != StatusRow.AgeColumn(wide)));
                    if (!shown.TryGetValue(key, out var before) || before != value)
                    {
                        shown[key] = value;
                        await output.WriteLineAsync(string.Join("   ", row.Select((cell, i) => i == row.Length - 1 || i >= widths.Length ? cell : cell.PadRight(widths[i]))).TrimEnd());
                        await output.FlushAsync(ct);
                    }
                }
            }
        }));
        AddExamples(command, "kubectl gentoo status -A", "kubectl gentoo status -o wide --watch");
        return command;
    }

    private static async Task<List<IKubernetesObject<V1ObjectMeta>>> StatusObjectsAsync(Cluster cluster, bool everywhere, CancellationToken ct)
    {
        // The three lists at once: one round trip's wait, not three.
        var bootstraps = cluster.ListAsync<GentooBootstrap>(everywhere, ct);
        var builders = cluster.ListAsync<GentooBuilder>(everywhere, ct);
        var runs = cluster.ListAsync<BuildRun>(everywhere, ct);
        return [.. await bootstraps, .. await builders, .. await runs];
    }

    private static Command Resume(TextWriter output, TextWriter error)
    {
        var run = new Argument<string>("RUN") { Description = "The BuildRun (or GentooBootstrap) awaiting a person" };
        var accept = new Option<string?>("--accept") { Description = "Proposed fixes to write as managed configuration: numbers (1,3) or all" };
        var command = new Command("resume", "Start the next attempt of a run that waits for a person") { run, accept };
        command.SetAction((result, ct) => RunAsync(result, error, async cluster =>
        {
            var name = result.GetValue(run)!;
            var token = DateTime.UtcNow.ToString("O", CultureInfo.InvariantCulture);
            if (await cluster.GetAsync<BuildRun>(name, ct) is { } buildRun)
            {
                if (buildRun.Status?.Phase is not (BuildRunPhase.AwaitingOperator or BuildRunPhase.Stalled))
                {
                    throw new PluginException($"BuildRun {name} is not awaiting anyone (phase {buildRun.Status?.Phase?.ToString() ?? "none yet"})");
                }

                var annotations = new Dictionary<string, string> { [RequestAnnotations.Resume] = token };
                if (result.GetValue(accept) is { } fixes)
                {
                    var known = buildRun.Status.ProposedFixes?.Select(f => f.Number?.ToString(CultureInfo.InvariantCulture)).ToHashSet() ?? [];
                    var unknown = fixes == "all" ? [] : fixes.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).Where(n => !known.Contains(n)).ToList();
                    if (unknown.Count > 0)
                    {
                        throw new PluginException($"--accept {fixes}: {string.Join(", ", unknown)} not among the proposed fixes of {name} ({(known.Count == 0 ? "there are none" : string.Join(", ", known))}); see kubectl gentoo explain {name}");
                    }

                    annotations[RequestAnnotations.AcceptFixes] = fixes;
                }

                await cluster.AnnotateAsync<BuildRun>(name, annotations, ct);
                await output.WriteLineAsync($"buildrun.{GroupVersion.Group}/{name} resumed");
                return;
            }

            var bootstrap = await cluster.GetAsync<GentooBootstrap>(name, ct)
                ?? throw new PluginException($"no BuildRun or GentooBootstrap \"{name}\" in namespace {cluster.Namespace}");
            if (bootstrap.Status?.Phase != BootstrapPhase.AwaitingOperator)
            {
                throw new PluginException($"GentooBootstrap {name} is not awaiting anyone (phase {bootstrap.Status?.Phase?.ToString() ?? "none yet"})");
            }

            await cluster.AnnotateAsync<GentooBootstrap>(name, new Dictionary<string, string> { [RequestAnnotations.Resume] = token }, ct);
            await output.WriteLineAsync($"gentoobootstrap.{GroupVersion.Group}/{name} resumed");
        }));
        AddExamples(command, "kubectl gentoo resume firefox", "kubectl gentoo resume firefox --accept 1,2", "kubectl gentoo resume stage3");
        return command;
    }

    private static Command Binhost(TextWriter output, TextWriter error)
    {
        var builder = new Argument<string>("BUILDER") { Description = "The GentooBuilder" };
        var format = Output.Option();
        var command = new Command("binhost", "Where a builder's binhost is, the key its packages are signed with, and the commands a client runs") { builder, format };
        command.SetAction((result, ct) => RunAsync(result, error, async cluster =>
        {
            var name = result.GetValue(builder)!;
            var found = await cluster.RequireAsync<GentooBuilder>(name, ct);
            var url = found.Status?.BinhostUrl ?? throw new PluginException(found.Spec.Binhost?.Enabled == false
                ? $"GentooBuilder {name} runs no binhost (spec.binhost.enabled: false)"
                : $"GentooBuilder {name} has no binhost yet (phase {found.Status?.Phase?.ToString() ?? "none yet"}); see kubectl gentoo status");
            if (Output.Structured(Output.Fields(
                ("binhostUrl", url),
                ("signingKeyFingerprint", found.Status?.SigningKeyFingerprint),
                ("signingKeyExpires", found.Status?.SigningKeyExpires),
                ("clientSetup", url + "client-setup.sh"),
                ("buildRequestTokenSecret", found.Status?.BuildRequestTokenSecret),
                ("published", found.Status?.Releases?.Published)), result.GetValue(format)) is { } structured)
            {
                await output.WriteAsync(structured);
                return;
            }

            var text = new StringBuilder();
            text.Append("binhost:        ").Append(url).Append('\n');
            text.Append("signing key:    ").Append(found.Status?.SigningKeyFingerprint is { } fingerprint
                ? fingerprint + (found.Status.SigningKeyExpires is { } expires ? $" (expires {expires:yyyy-MM-dd}; clients re-run client-setup.sh to learn a later date)" : "")
                : found.Spec.Signing?.Unsigned == true ? "none: packages are unsigned (spec.signing.unsigned)" : "not ready yet").Append('\n');
            text.Append("client setup:   curl -fsS ").Append(url).Append("client-setup.sh | sh    # as root on the client\n");
            if (found.Status?.BuildRequestTokenSecret is { } secret)
            {
                text.Append("build request:  curl -fsS -H \"Authorization: Bearer $(kubectl get secret -n ").Append(cluster.Namespace).Append(' ').Append(secret)
                    .Append(" -o jsonpath='{.data.token}' | base64 -d)\" --data-binary 'CATEGORY/PACKAGE ...' ").Append(url).Append("build\n");
            }

            await output.WriteAsync(text.ToString());
        }));
        AddExamples(command, "kubectl gentoo binhost plasma-desktop");
        return command;
    }

    private static Command Update(TextWriter output, TextWriter error)
    {
        var wait = new Option<bool>("--wait", "-w") { Description = "Wait for the update pod and print what a world update would merge" };
        var timeout = WaitOptions.Timeout("How long to wait with --wait (a build in progress finishes first)", TimeSpan.FromHours(1));
        var command = Request(output, error, "update", RequestAnnotations.Update, "sync the builder's repositories and configuration and show what a world update would merge",
            async (cluster, name, token, result, ct) =>
            {
                if (!result.GetValue(wait))
                {
                    return;
                }

                var deadline = DateTime.UtcNow + result.GetValue(timeout);
                string? said = null;
                while (true)
                {
                    var current = await cluster.RequireAsync<GentooBuilder>(name, ct);
                    if (current.Status?.LastHandledUpdate == token && current.Status.CurrentMaintenance is null && current.Status.LastUpdateResult is { } found)
                    {
                        await output.WriteLineAsync(found);
                        return;
                    }

                    if (UpdateProgress(current.Status, token) is var line && line != said)
                    {
                        await output.WriteLineAsync(line);
                        await output.FlushAsync(ct);
                        said = line;
                    }

                    if (DateTime.UtcNow > deadline)
                    {
                        throw new PluginException($"the update of {name} did not finish within {Entities.Schema.Durations.Format(result.GetValue(timeout))}; see kubectl gentoo status");
                    }

                    await Task.Delay(TimeSpan.FromSeconds(1), ct);
                }
            });
        command.Options.Add(wait);
        command.Options.Add(timeout);
        return command;
    }

    /// <summary>Where an update asked for with <paramref name="token"/> stands: what it waits for, or its pod's stage.</summary>
    private static string UpdateProgress(GentooBuilderStatus? status, string token) =>
        status?.LastHandledUpdate != token
            ? status?.CurrentBuildRun is { } run ? $"Waiting: BuildRun {run} has the builder's volumes; the update starts when it ends"
            : status?.CurrentMaintenance is { } other ? $"Waiting: {other} has the builder's volumes"
            : "Waiting: for the operator"
            : status.MaintenanceProgress is { Total: > 0 } progress ? $"Updating: {StatusRow.Progress(progress)}"
            : $"Updating: pod {status.CurrentMaintenance} started";

    private static Command Request(
        TextWriter output, TextWriter error, string verb, string annotation, string description,
        Func<Cluster, string, string, ParseResult, CancellationToken, Task>? then = null)
    {
        var builder = new Argument<string>("BUILDER") { Description = "The GentooBuilder" };
        var command = new Command(verb, description[..1].ToUpperInvariant() + description[1..]) { builder };
        command.SetAction((result, ct) => RunAsync(result, error, async cluster =>
        {
            var name = result.GetValue(builder)!;
            await cluster.RequireAsync<GentooBuilder>(name, ct);
            var token = DateTime.UtcNow.ToString("O", CultureInfo.InvariantCulture);
            await cluster.AnnotateAsync<GentooBuilder>(name, new Dictionary<string, string> { [annotation] = token }, ct);
            await output.WriteLineAsync($"gentoobuilder.{GroupVersion.Group}/{name}: {verb} requested");
            if (then is not null)
            {
                await then(cluster, name, token, result, ct);
            }
        }));
        AddExamples(command, $"kubectl gentoo {verb} plasma-desktop");
        return command;
    }

    private static Command Logs(TextWriter output, TextWriter error)
    {
        var run = RunArgument();
        var follow = new Option<bool>("--follow", "-f") { Description = "Keep streaming while the build runs" };
        var command = new Command("logs", "The build log of a run's newest attempt") { run, follow };
        command.SetAction((result, ct) => RunAsync(result, error, async cluster =>
        {
            var buildRun = await ResolveRunAsync(cluster, result.GetValue(run)!, ct);
            var name = buildRun.Name();
            var pod = buildRun.Status?.Attempts?.LastOrDefault()?.Pod ?? throw new PluginException($"BuildRun {name} has not started an attempt yet (phase {buildRun.Status?.Phase?.ToString() ?? "none yet"})");
            try
            {
                await StreamLogAsync(cluster, pod, result.GetValue(follow), output, ct);
            }
            catch (HttpOperationException e) when (e.Response.StatusCode == System.Net.HttpStatusCode.NotFound)
            {
                throw new PluginException($"the pod {pod} of BuildRun {name} is gone; its log stays on the builder's root volume under /var/log/gentoo-builder");
            }
        }));
        AddExamples(command, "kubectl gentoo logs firefox -f", "kubectl gentoo logs plasma-desktop@latest");
        return command;
    }

    private static Command Shell(TextWriter output, TextWriter error)
    {
        var builder = new Argument<string>("BUILDER") { Description = "The GentooBuilder" };
        var timeout = WaitOptions.Timeout("How long to wait for the shell pod (a build in progress finishes first)", TimeSpan.FromMinutes(10));
        var command = new Command("shell", "An interactive chroot in the builder's root, on its volumes (make bash); builds wait until you leave") { builder, timeout };
        command.SetAction((result, ct) => RunAsync(result, error, async cluster =>
        {
            var name = result.GetValue(builder)!;
            await cluster.RequireAsync<GentooBuilder>(name, ct);
            var token = DateTime.UtcNow.ToString("O", CultureInfo.InvariantCulture);
            await cluster.AnnotateAsync<GentooBuilder>(name, new Dictionary<string, string> { [RequestAnnotations.Shell] = token }, ct);
            var deadline = DateTime.UtcNow + result.GetValue(timeout);
            string? pod = null;
            var told = false;
            while (pod is null)
            {
                var current = await cluster.RequireAsync<GentooBuilder>(name, ct);
                if (current.Status?.LastHandledShell == token && current.Status.CurrentMaintenance is { } maintenance
                    && (await cluster.Kube.CoreV1.ReadNamespacedPodAsync(maintenance, cluster.Namespace, cancellationToken: ct)).Status?.Phase == PodPhases.Running)
                {
                    pod = maintenance;
                    break;
                }

                if (!told && current.Status?.CurrentBuildRun is { } run)
                {
                    await output.WriteLineAsync($"waiting for BuildRun {run} to finish on {name}...");
                    told = true;
                }

                if (DateTime.UtcNow > deadline)
                {
                    throw new PluginException($"the shell pod of {name} did not start within {Entities.Schema.Durations.Format(result.GetValue(timeout))}; see kubectl describe gentoobuilder {name}");
                }

                await Task.Delay(1000, ct);
            }

            try
            {
                var kubectl = Environment.GetEnvironmentVariable("KUBECTL") is { Length: > 0 } path ? path : "kubectl";
                var start = new System.Diagnostics.ProcessStartInfo(kubectl);
                foreach (var (flag, value) in new[] { ("--kubeconfig", result.GetValue(Kubeconfig)), ("--context", result.GetValue(Context)) })
                {
                    if (value is not null)
                    {
                        start.ArgumentList.Add(flag);
                        start.ArgumentList.Add(value);
                    }
                }

                // The person's shell gets the root's environment, not the agent's GC settings (emerge in it may build .NET programs).
                string[] withoutAgentSettings = ["env", .. AgentPod.RuntimeEnvironment.Keys.Order(StringComparer.Ordinal).SelectMany(key => new[] { "-u", key })];
                foreach (var arg in (string[])["exec", "-it", "-n", cluster.Namespace, pod, "-c", AgentPod.Container, "--", .. withoutAgentSettings, "chroot", AgentPod.RootMount, "/bin/bash", "--login"])
                {
                    start.ArgumentList.Add(arg);
                }

                using var process = System.Diagnostics.Process.Start(start) ?? throw new PluginException($"could not run {kubectl}");
                await process.WaitForExitAsync(ct);
            }
            finally
            {
                await cluster.Kube.CoreV1.DeleteNamespacedPodAsync(pod, cluster.Namespace, cancellationToken: CancellationToken.None);
                await output.WriteLineAsync($"shell pod {pod} stopped; builds on {name} may run again");
            }
        }));
        AddExamples(command, "kubectl gentoo shell plasma-desktop", "kubectl gentoo shell plasma-desktop --timeout 30m");
        return command;
    }

    private static Command Explain(TextWriter output, TextWriter error)
    {
        var run = RunArgument();
        var format = Output.Option();
        var command = new Command("explain", "Why a run failed: the failure, the fixes emerge proposed, the log excerpt") { run, format };
        command.SetAction((result, ct) => RunAsync(result, error, async cluster =>
        {
            var buildRun = await ResolveRunAsync(cluster, result.GetValue(run)!, ct);
            var name = buildRun.Name();
            var status = buildRun.Status;
            if (status?.Failure is not { } failure)
            {
                throw new PluginException($"BuildRun {name} has no failure to explain (phase {status?.Phase?.ToString() ?? "none yet"})");
            }

            if (Output.Structured(Output.Fields(("name", name), ("phase", status.Phase), ("failure", failure), ("proposedFixes", status.ProposedFixes)), result.GetValue(format)) is { } structured)
            {
                await output.WriteAsync(structured);
                return;
            }

            var text = new StringBuilder();
            text.Append(CultureInfo.InvariantCulture, $"BuildRun {name}: {status.Phase}\n");
            text.Append(CultureInfo.InvariantCulture, $"Failure:   {failure.Class}{(failure.Atom is null ? "" : " of " + failure.Atom)}{(failure.Phase is null ? "" : " in " + failure.Phase)}\n");
            text.Append(CultureInfo.InvariantCulture, $"Message:   {failure.Message}\n");
            if (failure.BuildLog is not null)
            {
                text.Append(CultureInfo.InvariantCulture, $"Build log: {failure.BuildLog}\n");
            }

            if (status.ProposedFixes is { Count: > 0 } fixes)
            {
                text.Append("Proposed fixes (kubectl gentoo resume ").Append(name).Append(" --accept N):\n");
                foreach (var fix in fixes)
                {
                    text.Append(CultureInfo.InvariantCulture, $"  {fix.Number}. {fix.File}: {string.Join("; ", fix.Lines ?? [])}\n");
                }
            }

            if (failure.LogExcerpt is { Count: > 0 } excerpt)
            {
                text.Append("Log excerpt:\n");
                foreach (var line in excerpt)
                {
                    text.Append("  ").Append(line).Append('\n');
                }
            }

            await output.WriteAsync(text.ToString());
        }));
        AddExamples(command, "kubectl gentoo explain firefox", "kubectl gentoo explain plasma-desktop@latest");
        return command;
    }

    /// <summary>Connects as kubectl would, runs the command, and turns expected failures into one line and exit code 1.</summary>
    private static Task<int> RunAsync(ParseResult result, TextWriter error, Func<Cluster, Task> action) =>
        RunAsync(result, error, async cluster =>
        {
            await action(cluster);
            return 0;
        });

    /// <summary>The same, for a verb whose exit code says how something it waited for ended.</summary>
    private static async Task<int> RunAsync(ParseResult result, TextWriter error, Func<Cluster, Task<int>> action)
    {
        try
        {
            using var cluster = Cluster.Connect(result.GetValue(Kubeconfig), result.GetValue(Context), result.GetValue(Namespace));
            return await action(cluster);
        }
        catch (PluginException e)
        {
            await error.WriteLineAsync($"error: {e.Message}");
            return 1;
        }
        catch (HttpOperationException e)
        {
            await error.WriteLineAsync($"error: the API server answered {(int)e.Response.StatusCode}: {StatusRow.Short(e.Response.Content, 300)}");
            return 1;
        }
        catch (HttpRequestException e)
        {
            await error.WriteLineAsync($"error: the API server cannot be reached: {e.Message}");
            return 1;
        }
    }
}
