using System.CommandLine;
using System.Reflection;
using System.Text;
using System.Text.Json.Nodes;
using Gentoo.Entities.V1Alpha1;
using k8s;
using k8s.Autorest;
using k8s.Models;

namespace Gentoo.Plugin;

/// <summary>kubectl gentoo version: this plugin's, the operator's (its Deployment's image) and the CRDs' served versions.</summary>
public static partial class PluginCommand
{
    /// <summary>The plugin's version, as its assembly carries it (with the commit the build came from, where it knew it).</summary>
    public static string PluginVersion =>
        typeof(PluginCommand).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";

    private static Command VersionCommand(TextWriter output, TextWriter error)
    {
        var format = Output.Option();
        var command = new Command("version", "The versions of this plugin, the operator running on the cluster and the CRDs it serves") { format };
        command.SetAction((result, ct) => RunAsync(result, error, async cluster =>
        {
            if (result.GetValue(format) is OutputFormat.Json or OutputFormat.Yaml)
            {
                var crds = new JsonObject();
                foreach (var plural in new[] { GentooBootstrap.KubePlural, GentooBuilder.KubePlural, BuildRun.KubePlural })
                {
                    crds[$"{plural}.{GroupVersion.Group}"] = await CrdVersionsAsync(cluster, plural, ct);
                }

                await output.WriteAsync(Output.Structured(Output.Fields(("plugin", PluginVersion), ("operator", await OperatorVersionAsync(cluster, ct)), ("crds", crds)), result.GetValue(format))!);
                return;
            }

            var text = new StringBuilder();
            text.Append("plugin:    ").Append(PluginVersion).Append('\n');
            text.Append("operator:  ").Append(await OperatorVersionAsync(cluster, ct)).Append('\n');
            foreach (var plural in new[] { GentooBootstrap.KubePlural, GentooBuilder.KubePlural, BuildRun.KubePlural })
            {
                text.Append("crd:       ").Append(plural).Append('.').Append(GroupVersion.Group).Append(' ').Append(await CrdVersionsAsync(cluster, plural, ct)).Append('\n');
            }

            await output.WriteAsync(text.ToString());
        }));
        AddExamples(command, "kubectl gentoo version");
        return command;
    }

    /// <summary>The image of the operator's Deployment(s), found by the label the manifests and the chart give it.</summary>
    private static async Task<string> OperatorVersionAsync(Cluster cluster, CancellationToken ct)
    {
        try
        {
            var deployments = await cluster.Kube.AppsV1.ListDeploymentForAllNamespacesAsync(labelSelector: ObjectLabels.OperatorSelector, cancellationToken: ct);
            var images = deployments.Items
                .Select(d => $"{d.Spec.Template.Spec.Containers.FirstOrDefault()?.Image} ({d.Namespace()}/{d.Name()}, {d.Status?.ReadyReplicas ?? 0}/{d.Spec.Replicas ?? 1} ready)")
                .ToList();
            return images.Count == 0 ? $"no Deployment labelled {ObjectLabels.OperatorSelector} (local mode runs the operator in its own process)" : string.Join("; ", images);
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == System.Net.HttpStatusCode.Forbidden)
        {
            return "unknown: you may not list Deployments in every namespace";
        }
    }

    private static async Task<string> CrdVersionsAsync(Cluster cluster, string plural, CancellationToken ct)
    {
        try
        {
            var crd = await cluster.Kube.ApiextensionsV1.ReadCustomResourceDefinitionAsync($"{plural}.{GroupVersion.Group}", cancellationToken: ct);
            return string.Join(", ", crd.Spec.Versions.Where(v => v.Served).Select(v => v.Storage ? v.Name + " (stored)" : v.Name));
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == System.Net.HttpStatusCode.NotFound)
        {
            return "not installed (kubectl apply --server-side -f config/crd/)";
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == System.Net.HttpStatusCode.Forbidden)
        {
            return "unknown: you may not read CustomResourceDefinitions";
        }
    }
}
