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
public static class PluginCommand
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
        return root;
    }

    private static Command Status(TextWriter output, TextWriter error)
    {
        var all = new Option<bool>("--all-namespaces", "-A") { Description = "Every namespace" };
        var command = new Command("status", "Every bootstrap, builder and run with its phase and conditions") { all };
        command.SetAction((result, ct) => RunAsync(result, error, async cluster =>
        {
            var everywhere = result.GetValue(all);
            var rows = new List<string[]> { new[] { "NAMESPACE", "KIND", "NAME", "PHASE", "READY", "REASON", "MESSAGE" } };
            void Add<TPhase>(IKubernetesObject<V1ObjectMeta> o, string kind, CommonStatus<TPhase>? status)
                where TPhase : struct, Enum
            {
                var ready = status?.Conditions?.FirstOrDefault(c => c.Type == ConditionTypes.Ready);
                var waiting = status?.Conditions?.FirstOrDefault(c => c.Type == ConditionTypes.AwaitingOperator && c.Status == "True")
                    ?? status?.Conditions?.FirstOrDefault(c => c.Type == ConditionTypes.Stalled && c.Status == "True");
                var shown = waiting ?? ready;
                rows.Add([o.Namespace(), kind, o.Name(), status?.Phase?.ToString() ?? "-", ready?.Status ?? "-", shown?.Reason ?? "-", Short(shown?.Message)]);
            }

            foreach (var b in await cluster.ListAsync<GentooBootstrap>(everywhere, ct))
            {
                Add(b, "GentooBootstrap", b.Status);
            }

            foreach (var b in await cluster.ListAsync<GentooBuilder>(everywhere, ct))
            {
                Add(b, "GentooBuilder", b.Status);
            }

            foreach (var r in await cluster.ListAsync<BuildRun>(everywhere, ct))
            {
                Add(r, "BuildRun", r.Status);
            }

            await output.WriteAsync(Table(rows));
        }));
        return command;
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
        return command;
    }

    private static Command Build(TextWriter output, TextWriter error)
    {
        var builder = new Argument<string>("BUILDER") { Description = "The GentooBuilder to build on" };
        var atoms = new Argument<string[]>("ATOMS") { Description = "Packages or sets to build (default @world)", Arity = ArgumentArity.ZeroOrMore };
        var command = new Command("build", "Create a BuildRun on a builder") { builder, atoms };
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
        }));
        return command;
    }

    private static Command Binhost(TextWriter output, TextWriter error)
    {
        var builder = new Argument<string>("BUILDER") { Description = "The GentooBuilder" };
        var command = new Command("binhost", "Where a builder's binhost is, the key its packages are signed with, and the commands a client runs") { builder };
        command.SetAction((result, ct) => RunAsync(result, error, async cluster =>
        {
            var name = result.GetValue(builder)!;
            var found = await cluster.RequireAsync<GentooBuilder>(name, ct);
            var url = found.Status?.BinhostUrl ?? throw new PluginException(found.Spec.Binhost?.Enabled == false
                ? $"GentooBuilder {name} runs no binhost (spec.binhost.enabled: false)"
                : $"GentooBuilder {name} has no binhost yet (phase {found.Status?.Phase?.ToString() ?? "none yet"}); see kubectl gentoo status");
            var text = new StringBuilder();
            text.Append("binhost:        ").Append(url).Append('\n');
            text.Append("signing key:    ").Append(found.Status?.SigningKeyFingerprint is { } fingerprint
                ? fingerprint
                : found.Spec.Signing?.Unsigned == true ? "none: packages are unsigned (spec.signing.unsigned)" : "not ready yet").Append('\n');
            text.Append("client setup:   curl -fsS ").Append(url).Append("client-setup.sh | sh    # as root on the client\n");
            if (found.Status?.BuildRequestTokenSecret is { } secret)
            {
                text.Append("build request:  curl -fsS -H \"Authorization: Bearer $(kubectl get secret -n ").Append(cluster.Namespace).Append(' ').Append(secret)
                    .Append(" -o jsonpath='{.data.token}' | base64 -d)\" --data-binary 'CATEGORY/PACKAGE ...' ").Append(url).Append("build\n");
            }

            await output.WriteAsync(text.ToString());
        }));
        return command;
    }

    private static Command Update(TextWriter output, TextWriter error)
    {
        var wait = new Option<bool>("--wait", "-w") { Description = "Wait for the update pod and print what a world update would merge" };
        var timeout = new Option<int>("--timeout") { Description = "Seconds to wait with --wait (a build in progress finishes first)", DefaultValueFactory = _ => 3600 };
        var command = Request(output, error, "update", RequestAnnotations.Update, "sync the builder's repositories and configuration and show what a world update would merge",
            async (cluster, name, token, result, ct) =>
            {
                if (!result.GetValue(wait))
                {
                    return;
                }

                var deadline = DateTime.UtcNow.AddSeconds(result.GetValue(timeout));
                while (true)
                {
                    var current = await cluster.RequireAsync<GentooBuilder>(name, ct);
                    if (current.Status?.LastHandledUpdate == token && current.Status.CurrentMaintenance is null && current.Status.LastUpdateResult is { } found)
                    {
                        await output.WriteLineAsync(found);
                        return;
                    }

                    if (DateTime.UtcNow > deadline)
                    {
                        throw new PluginException($"the update of {name} did not finish within {result.GetValue(timeout)} s; see kubectl gentoo status");
                    }

                    await Task.Delay(TimeSpan.FromSeconds(1), ct);
                }
            });
        command.Options.Add(wait);
        command.Options.Add(timeout);
        return command;
    }

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
        return command;
    }

    private static Command Logs(TextWriter output, TextWriter error)
    {
        var run = new Argument<string>("RUN") { Description = "The BuildRun" };
        var follow = new Option<bool>("--follow", "-f") { Description = "Keep streaming while the build runs" };
        var command = new Command("logs", "The build log of a run's newest attempt") { run, follow };
        command.SetAction((result, ct) => RunAsync(result, error, async cluster =>
        {
            var name = result.GetValue(run)!;
            var buildRun = await cluster.RequireAsync<BuildRun>(name, ct);
            var pod = buildRun.Status?.Attempts?.LastOrDefault()?.Pod ?? throw new PluginException($"BuildRun {name} has not started an attempt yet (phase {buildRun.Status?.Phase?.ToString() ?? "none yet"})");
            try
            {
                await using var stream = await cluster.Kube.CoreV1.ReadNamespacedPodLogAsync(pod, cluster.Namespace, container: AgentPod.Container, follow: result.GetValue(follow), cancellationToken: ct);
                using var reader = new StreamReader(stream);
                var buffer = new char[8192];
                int read;
                while ((read = await reader.ReadAsync(buffer, ct)) > 0)
                {
                    await output.WriteAsync(buffer.AsMemory(0, read), ct);
                }
            }
            catch (HttpOperationException e) when (e.Response.StatusCode == System.Net.HttpStatusCode.NotFound)
            {
                throw new PluginException($"the pod {pod} of BuildRun {name} is gone; its log stays on the builder's root volume under /var/log/gentoo-builder");
            }
        }));
        return command;
    }

    private static Command Shell(TextWriter output, TextWriter error)
    {
        var builder = new Argument<string>("BUILDER") { Description = "The GentooBuilder" };
        var timeout = new Option<int>("--timeout") { Description = "Seconds to wait for the shell pod (a build in progress finishes first)", DefaultValueFactory = _ => 600 };
        var command = new Command("shell", "An interactive chroot in the builder's root, on its volumes (make bash); builds wait until you leave") { builder, timeout };
        command.SetAction((result, ct) => RunAsync(result, error, async cluster =>
        {
            var name = result.GetValue(builder)!;
            await cluster.RequireAsync<GentooBuilder>(name, ct);
            var token = DateTime.UtcNow.ToString("O", CultureInfo.InvariantCulture);
            await cluster.AnnotateAsync<GentooBuilder>(name, new Dictionary<string, string> { [RequestAnnotations.Shell] = token }, ct);
            var deadline = DateTime.UtcNow.AddSeconds(result.GetValue(timeout));
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
                    throw new PluginException($"the shell pod of {name} did not start within {result.GetValue(timeout)} s; see kubectl describe gentoobuilder {name}");
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

                foreach (var arg in new[] { "exec", "-it", "-n", cluster.Namespace, pod, "-c", AgentPod.Container, "--", "chroot", AgentPod.RootMount, "/bin/bash", "--login" })
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
        return command;
    }

    private static Command Explain(TextWriter output, TextWriter error)
    {
        var run = new Argument<string>("RUN") { Description = "The BuildRun" };
        var command = new Command("explain", "Why a run failed: the failure, the fixes emerge proposed, the log excerpt") { run };
        command.SetAction((result, ct) => RunAsync(result, error, async cluster =>
        {
            var name = result.GetValue(run)!;
            var buildRun = await cluster.RequireAsync<BuildRun>(name, ct);
            var status = buildRun.Status;
            if (status?.Failure is not { } failure)
            {
                throw new PluginException($"BuildRun {name} has no failure to explain (phase {status?.Phase?.ToString() ?? "none yet"})");
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
        return command;
    }

    private static Command ReleasesList(TextWriter output, TextWriter error)
    {
        var builder = new Argument<string>("BUILDER") { Description = "The GentooBuilder" };
        var command = new Command("releases", "A builder's kept releases: what each run left, which one clients get") { builder };
        command.SetAction((result, ct) => RunAsync(result, error, async cluster =>
        {
            var name = result.GetValue(builder)!;
            var gb = await cluster.RequireAsync<GentooBuilder>(name, ct);
            var releases = gb.Status?.Releases;
            if (releases?.Kept is not { Count: > 0 } kept)
            {
                await output.WriteLineAsync($"GentooBuilder {name} has no release yet: a successful BuildRun makes one");
                return;
            }

            var marked = RequestValue(gb, RequestAnnotations.KeepReleases)?.Split(',', StringSplitOptions.TrimEntries).ToHashSet() ?? [];
            var rows = new List<string[]> { new[] { "RELEASE", "CREATED", "RUN", "PACKAGES", "ADDED", "REMOVED", "CHANGED", "PUBLISHED", "KEEP" } };
            foreach (var release in kept.Reverse())
            {
                rows.Add([
                    release.Id + (release.Partial == true ? " (partial)" : ""),
                    release.Created?.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture) ?? "-",
                    release.Run ?? "-",
                    Number(release.Packages), Number(release.Added), Number(release.Removed), Number(release.Changed),
                    release.Id == releases.Published ? "yes" : "",
                    marked.Contains(release.Id) ? "marked" : "",
                ]);
            }

            await output.WriteAsync(Table(rows));
            if (RequestValue(gb, RequestAnnotations.Publish) is { } chosen)
            {
                await output.WriteLineAsync($"release {chosen} was chosen by a person; new releases are not published until: kubectl gentoo publish {name} --newest");
            }
        }));
        return command;
    }

    private static Command Publish(TextWriter output, TextWriter error)
    {
        var builder = new Argument<string>("BUILDER") { Description = "The GentooBuilder" };
        var release = new Argument<string?>("RELEASE") { Description = "The kept release clients get from now on (an earlier one: a rollback)", Arity = ArgumentArity.ZeroOrOne };
        var newest = new Option<bool>("--newest") { Description = "Withdraw a person's choice: the newest release is published, and new ones are as they come (autoPublish)" };
        var command = new Command("publish", "Choose the release the binhost serves: roll back, or publish one held back") { builder, release, newest };
        command.SetAction((result, ct) => RunAsync(result, error, async cluster =>
        {
            var name = result.GetValue(builder)!;
            var gb = await cluster.RequireAsync<GentooBuilder>(name, ct);
            if (result.GetValue(newest))
            {
                await cluster.SetAnnotationAsync<GentooBuilder>(name, RequestAnnotations.Publish, null, ct);
                await output.WriteLineAsync($"gentoobuilder.{GroupVersion.Group}/{name}: the newest release is published from now on");
                return;
            }

            var id = result.GetValue(release) ?? throw new PluginException("name the RELEASE to publish (kubectl gentoo releases " + name + "), or --newest");
            var kept = gb.Status?.Releases?.Kept?.Select(r => r.Id).ToList() ?? [];
            if (!kept.Contains(id))
            {
                throw new PluginException($"release {id} is not kept by GentooBuilder {name}; kept releases: {(kept.Count == 0 ? "none" : string.Join(", ", kept))}");
            }

            await cluster.SetAnnotationAsync<GentooBuilder>(name, RequestAnnotations.Publish, id, ct);
            await output.WriteLineAsync($"gentoobuilder.{GroupVersion.Group}/{name}: release {id} will be published (new releases wait until kubectl gentoo publish {name} --newest)");
        }));
        return command;
    }

    private static Command Keep(TextWriter output, TextWriter error)
    {
        var builder = new Argument<string>("BUILDER") { Description = "The GentooBuilder" };
        var release = new Argument<string>("RELEASE") { Description = "The release retention must keep" };
        var remove = new Option<bool>("--remove") { Description = "Let retention drop it again" };
        var command = new Command("keep", "Mark a release to keep beyond spec.releases.keep (or unmark it)") { builder, release, remove };
        command.SetAction((result, ct) => RunAsync(result, error, async cluster =>
        {
            var name = result.GetValue(builder)!;
            var id = result.GetValue(release)!;
            var gb = await cluster.RequireAsync<GentooBuilder>(name, ct);
            var marked = RequestValue(gb, RequestAnnotations.KeepReleases)?.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).ToList() ?? [];
            if (!result.GetValue(remove) && !(gb.Status?.Releases?.Kept?.Any(r => r.Id == id) ?? false))
            {
                throw new PluginException($"release {id} is not kept by GentooBuilder {name}: a purged release cannot be kept");
            }

            marked = result.GetValue(remove) ? [.. marked.Where(m => m != id)] : [.. marked.Append(id).Distinct()];
            await cluster.SetAnnotationAsync<GentooBuilder>(name, RequestAnnotations.KeepReleases, marked.Count == 0 ? null : string.Join(",", marked), ct);
            await output.WriteLineAsync($"gentoobuilder.{GroupVersion.Group}/{name}: releases kept by a person: {(marked.Count == 0 ? "none" : string.Join(", ", marked))}");
        }));
        return command;
    }

    private static Command Diff(TextWriter output, TextWriter error)
    {
        var builder = new Argument<string>("BUILDER") { Description = "The GentooBuilder" };
        var from = new Argument<string>("FROM") { Description = "A kept release" };
        var to = new Argument<string>("TO") { Description = "Another kept release" };
        var command = new Command("diff", "What changed between two releases, package by package (+ added, - removed, ~ changed)") { builder, from, to };
        command.SetAction((result, ct) => RunAsync(result, error, async cluster =>
        {
            var name = result.GetValue(builder)!;
            var gb = await cluster.RequireAsync<GentooBuilder>(name, ct);
            var path = $"releases/{Uri.EscapeDataString(result.GetValue(from)!)}/diff/{Uri.EscapeDataString(result.GetValue(to)!)}";
            using var answer = System.Text.Json.JsonDocument.Parse(await BinhostAsync(cluster, gb, path, ct));
            if (answer.RootElement.TryGetProperty("error", out var problem))
            {
                throw new PluginException(problem.GetString()!);
            }

            var changes = answer.RootElement.GetProperty("changes").EnumerateArray().Select(c => c.GetString()).ToList();
            await output.WriteAsync(changes.Count == 0 ? "no difference\n" : string.Concat(changes.Select(c => c + "\n")));
        }));
        return command;
    }

    /// <summary>
    /// A GET of the builder's binhost: directly where its URL is reachable (a load balancer, local mode), else through
    /// the API server's proxy to its Service, as kubectl proxy would (the cluster's DNS names mean nothing here).
    /// </summary>
    private static async Task<string> BinhostAsync(Cluster cluster, GentooBuilder builder, string path, CancellationToken ct)
    {
        var url = builder.Status?.BinhostUrl ?? throw new PluginException($"GentooBuilder {builder.Name()} has no binhost (spec.binhost.enabled, or not ready yet)");
        var uri = new Uri(url);
        if (!uri.Host.EndsWith(".svc", StringComparison.Ordinal))
        {
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
            using var response = await http.GetAsync(new Uri(uri, path), ct);
            return await response.Content.ReadAsStringAsync(ct);
        }

        var service = uri.Host.Split('.')[0];
        await using var stream = await cluster.Kube.CoreV1.ConnectGetNamespacedServiceProxyWithPathAsync($"{service}:http", cluster.Namespace, path, cancellationToken: ct);
        using var reader = new StreamReader(stream);
        return await reader.ReadToEndAsync(ct);
    }

    private static string? RequestValue(GentooBuilder builder, string annotation) =>
        builder.Metadata.Annotations?.TryGetValue(annotation, out var value) == true && value.Length > 0 ? value : null;

    private static string Number(int? value) => value?.ToString(CultureInfo.InvariantCulture) ?? "-";

    /// <summary>Connects as kubectl would, runs the command, and turns expected failures into one line and exit code 1.</summary>
    private static async Task<int> RunAsync(ParseResult result, TextWriter error, Func<Cluster, Task> action)
    {
        try
        {
            using var cluster = Cluster.Connect(result.GetValue(Kubeconfig), result.GetValue(Context), result.GetValue(Namespace));
            await action(cluster);
            return 0;
        }
        catch (PluginException e)
        {
            await error.WriteLineAsync($"error: {e.Message}");
            return 1;
        }
        catch (HttpOperationException e)
        {
            await error.WriteLineAsync($"error: the API server answered {(int)e.Response.StatusCode}: {Short(e.Response.Content, 300)}");
            return 1;
        }
        catch (HttpRequestException e)
        {
            await error.WriteLineAsync($"error: the API server cannot be reached: {e.Message}");
            return 1;
        }
    }

    private static string Short(string? text, int length = 80)
    {
        var line = (text ?? "-").ReplaceLineEndings(" ");
        return line.Length <= length ? line : line[..(length - 1)] + "…";
    }

    private static string Table(List<string[]> rows)
    {
        var widths = Enumerable.Range(0, rows[0].Length).Select(i => rows.Max(r => r[i].Length)).ToArray();
        var text = new StringBuilder();
        foreach (var row in rows)
        {
            text.Append(string.Join("   ", row.Select((cell, i) => i == row.Length - 1 ? cell : cell.PadRight(widths[i])))).Append('\n');
        }

        return text.ToString();
    }
}
