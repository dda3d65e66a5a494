using System.CommandLine;
using System.Globalization;
using Gentoo.Entities.V1Alpha1;
using k8s;
using k8s.Models;

namespace Gentoo.Plugin;

/// <summary>kubectl gentoo's release verbs: releases, publish, keep, diff (see the README's Releases).</summary>
public static partial class PluginCommand
{
    private static Command ReleasesList(TextWriter output, TextWriter error)
    {
        var builder = new Argument<string>("BUILDER") { Description = "The GentooBuilder" };
        var format = Output.Option();
        var command = new Command("releases", "A builder's kept releases: what each run left, which one clients get") { builder, format };
        command.SetAction((result, ct) => RunAsync(result, error, async cluster =>
        {
            var name = result.GetValue(builder)!;
            var gb = await cluster.RequireAsync<GentooBuilder>(name, ct);
            var releases = gb.Status?.Releases;
            switch (result.GetValue(format))
            {
                case OutputFormat.Json or OutputFormat.Yaml:
                    await output.WriteAsync(Output.Structured(releases ?? new BuilderReleases(), result.GetValue(format))!);
                    return;
                case OutputFormat.Name:
                    await output.WriteAsync(string.Concat((releases?.Kept ?? []).Select(r => $"release/{r.Id}\n")));
                    return;
            }

            if (releases?.Kept is not { Count: > 0 } kept)
            {
                await output.WriteLineAsync($"GentooBuilder {name} has no release yet: a successful BuildRun makes one");
                return;
            }

            var marked = RequestAnnotations.ReleaseIds(RequestValue(gb, RequestAnnotations.KeepReleases)).ToHashSet();
            var rows = new List<string[]> { new[] { "RELEASE", "CREATED", "RUN", "PACKAGES", "ADDED", "REMOVED", "CHANGED", "PUBLISHED", "KEEP" } };
            foreach (var release in kept.Reverse())
            {
                rows.Add([
                    release.Id + (release.Partial == true ? " (partial)" : ""),
                    release.Created?.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture) ?? "-",
                    release.Run ?? "-",
                    Output.Number(release.Packages), Output.Number(release.Added), Output.Number(release.Removed), Output.Number(release.Changed),
                    release.Id == releases.Published ? "yes" : "",
                    marked.Contains(release.Id) ? "marked" : "",
                ]);
            }

            await output.WriteAsync(Output.Table(rows));
            if (RequestValue(gb, RequestAnnotations.Publish) is { } chosen)
            {
                await output.WriteLineAsync($"release {chosen} was chosen by a person; new releases are not published until: kubectl gentoo publish {name} --newest");
            }
        }));
        AddExamples(command, "kubectl gentoo releases plasma-desktop", "kubectl gentoo releases plasma-desktop -o yaml");
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
        AddExamples(command, "kubectl gentoo publish plasma-desktop 4", "kubectl gentoo publish plasma-desktop --newest");
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
            var marked = RequestAnnotations.ReleaseIds(RequestValue(gb, RequestAnnotations.KeepReleases)).ToList();
            if (!result.GetValue(remove) && !(gb.Status?.Releases?.Kept?.Any(r => r.Id == id) ?? false))
            {
                throw new PluginException($"release {id} is not kept by GentooBuilder {name}: a purged release cannot be kept");
            }

            marked = result.GetValue(remove) ? [.. marked.Where(m => m != id)] : [.. marked.Append(id).Distinct()];
            await cluster.SetAnnotationAsync<GentooBuilder>(name, RequestAnnotations.KeepReleases, marked.Count == 0 ? null : string.Join(",", marked), ct);
            await output.WriteLineAsync($"gentoobuilder.{GroupVersion.Group}/{name}: releases kept by a person: {(marked.Count == 0 ? "none" : string.Join(", ", marked))}");
        }));
        AddExamples(command, "kubectl gentoo keep plasma-desktop 3", "kubectl gentoo keep plasma-desktop 3 --remove");
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
        AddExamples(command, "kubectl gentoo diff plasma-desktop 4 5");
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

}
