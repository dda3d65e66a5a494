using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Gentoo.Entities.V1Alpha1;
using k8s;
using k8s.Autorest;
using k8s.Models;

namespace Gentoo.Plugin;

/// <summary>One thing kubectl gentoo check looked at: whether it holds, and what it saw or what to do.</summary>
public sealed record CheckResult(string Name, bool Ok, string Detail);

/// <summary>
/// kubectl gentoo check: what cmctl check api and flux check --pre tell before anything is built: the API server is new
/// enough, the CRDs are served and the ones this plugin knows, the operator runs and leads, the person may do what the
/// verbs do, snapshots and a default StorageClass exist, and the namespace lets build pods run privileged.
/// </summary>
public static partial class PluginCommand
{
    private static Command CheckCommand(TextWriter output, TextWriter error)
    {
        var command = new Command("check", "Whether this cluster and namespace are ready for gentoo-builder, and what to do where not");
        command.SetAction((result, ct) => RunAsync(result, error, async cluster =>
        {
            var results = await ChecksAsync(cluster, ct);
            var text = new StringBuilder();
            foreach (var check in results)
            {
                text.Append(check.Ok ? "✔ " : "✗ ").Append(check.Name).Append(": ").Append(check.Detail).Append('\n');
            }

            var failed = results.Count(c => !c.Ok);
            text.Append(failed == 0 ? "all checks passed\n" : $"{failed} of {results.Count} checks failed\n");
            await output.WriteAsync(text.ToString());
            return failed == 0 ? 0 : 1;
        }));
        AddExamples(command, "kubectl gentoo check", "kubectl gentoo check -n builds");
        return command;
    }

    private static async Task<IReadOnlyList<CheckResult>> ChecksAsync(Cluster cluster, CancellationToken ct)
    {
        var results = new List<CheckResult> { await ApiServerAsync(cluster, ct) };
        foreach (var plural in new[] { GentooBootstrap.KubePlural, GentooBuilder.KubePlural, BuildRun.KubePlural })
        {
            results.Add(await CrdAsync(cluster, plural, ct));
        }

        results.Add(await OperatorAsync(cluster, ct));
        results.Add(await AccessAsync(cluster, ct));
        results.Add(await SnapshotsAsync(cluster, ct));
        results.Add(await StorageClassAsync(cluster, ct));
        results.Add(await PodSecurityAsync(cluster, ct));
        return results;
    }

    private static async Task<CheckResult> ApiServerAsync(Cluster cluster, CancellationToken ct)
    {
        var version = await cluster.Kube.Version.GetCodeAsync(ct);
        var minor = int.TryParse(new string(version.Minor.TakeWhile(char.IsAsciiDigit).ToArray()), NumberStyles.None, CultureInfo.InvariantCulture, out var m) ? m : 0;
        var ok = version.Major == "1" && minor >= 26;
        return new CheckResult("API server", ok, ok ? $"Kubernetes {version.GitVersion}" : $"Kubernetes {version.GitVersion}: gentoo-builder needs 1.26 or later");
    }

    private static async Task<CheckResult> CrdAsync(Cluster cluster, string plural, CancellationToken ct)
    {
        var name = $"{plural}.{GroupVersion.Group}";
        try
        {
            var crd = await cluster.Kube.ApiextensionsV1.ReadCustomResourceDefinitionAsync(name, cancellationToken: ct);
            var established = crd.Status?.Conditions?.Any(c => c.Type == "Established" && c.Status == "True") == true;
            var served = crd.Spec.Versions.Any(v => v.Name == GroupVersion.Version && v.Served);
            var digest = crd.Metadata.Annotations?.TryGetValue(RequestAnnotations.SchemaDigest, out var d) == true ? d : null;
            var expected = KnownSchemaDigest(plural);
            return (established, served, digest == expected) switch
            {
                (false, _, _) => new CheckResult($"CRD {name}", false, "not established yet (the API server has not accepted it)"),
                (_, false, _) => new CheckResult($"CRD {name}", false, $"does not serve {GroupVersion.Version}"),
                (_, _, false) => new CheckResult($"CRD {name}", false, $"differs from the one this plugin knows ({digest ?? "no digest"} served, {expected} known): kubectl apply --server-side -f config/crd/ (or upgrade the chart)"),
                _ => new CheckResult($"CRD {name}", true, $"served at {GroupVersion.Version}, current"),
            };
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == System.Net.HttpStatusCode.NotFound)
        {
            return new CheckResult($"CRD {name}", false, "not installed: kubectl apply --server-side -f config/crd/ (or install the chart)");
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == System.Net.HttpStatusCode.Forbidden)
        {
            return new CheckResult($"CRD {name}", false, "you may not read CustomResourceDefinitions: ask for get on customresourcedefinitions.apiextensions.k8s.io");
        }
    }

    /// <summary>The schema digest of the CRD this plugin was built with (config/crd, embedded).</summary>
    private static string KnownSchemaDigest(string plural)
    {
        using var stream = typeof(PluginCommand).Assembly.GetManifestResourceStream($"crd/{GroupVersion.Group}_{plural}.yaml")
            ?? throw new InvalidOperationException($"the plugin was built without config/crd/{GroupVersion.Group}_{plural}.yaml");
        using var reader = new StreamReader(stream);
        return Regex.Match(reader.ReadToEnd(), Regex.Escape(RequestAnnotations.SchemaDigest) + ": \"([0-9a-f]+)\"").Groups[1].Value;
    }

    private static async Task<CheckResult> OperatorAsync(Cluster cluster, CancellationToken ct)
    {
        V1DeploymentList deployments;
        try
        {
            deployments = await cluster.Kube.AppsV1.ListDeploymentForAllNamespacesAsync(labelSelector: ObjectLabels.OperatorSelector, cancellationToken: ct);
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == System.Net.HttpStatusCode.Forbidden)
        {
            return new CheckResult("operator", false, "you may not list Deployments in every namespace, so the operator cannot be looked for");
        }

        if (deployments.Items.FirstOrDefault() is not { } deployment)
        {
            return await LeaseHolderAsync(cluster, ns: null, ct) is { } holder
                ? new CheckResult("operator", true, $"no Deployment, but {holder} leads (local mode runs the operator in its own process)")
                : new CheckResult("operator", false, $"no Deployment labelled {ObjectLabels.OperatorSelector}: kubectl apply -f config/manager/, or helm install, or local up");
        }

        var ready = deployment.Status?.ReadyReplicas ?? 0;
        var leader = await LeaseHolderAsync(cluster, deployment.Namespace(), ct);
        return ready > 0
            ? new CheckResult("operator", true, $"{deployment.Namespace()}/{deployment.Name()} ({deployment.Spec.Template.Spec.Containers[0].Image}), {ready} ready; leader: {leader ?? "none (leader election off, or not elected yet)"}")
            : new CheckResult("operator", false, $"{deployment.Namespace()}/{deployment.Name()} has no ready replica: kubectl -n {deployment.Namespace()} describe deployment {deployment.Name()}");
    }

    /// <summary>Who holds the operator's Lease in <paramref name="ns"/> (null: in any namespace), if it was renewed lately.</summary>
    private static async Task<string?> LeaseHolderAsync(Cluster cluster, string? ns, CancellationToken ct)
    {
        try
        {
            var field = "metadata.name=" + ObjectLabels.LeaderLease;
            var leases = ns is null
                ? await cluster.Kube.CoordinationV1.ListLeaseForAllNamespacesAsync(fieldSelector: field, cancellationToken: ct)
                : await cluster.Kube.CoordinationV1.ListNamespacedLeaseAsync(ns, fieldSelector: field, cancellationToken: ct);
            return leases.Items
                .Where(l => (l.Spec.RenewTime ?? l.Spec.AcquireTime) is { } renewed && DateTime.UtcNow - renewed.ToUniversalTime() < TimeSpan.FromSeconds((l.Spec.LeaseDurationSeconds ?? 15) * 2))
                .Select(l => l.Spec.HolderIdentity)
                .FirstOrDefault();
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == System.Net.HttpStatusCode.Forbidden)
        {
            return null;
        }
    }

    /// <summary>What the verbs do, asked of the API server for this person in this namespace.</summary>
    private static async Task<CheckResult> AccessAsync(Cluster cluster, CancellationToken ct)
    {
        (string Group, string Resource, string Verb, string? Subresource, string Why)[] needs =
        [
            (GroupVersion.Group, GentooBuilder.KubePlural, "list", null, "status"),
            (GroupVersion.Group, BuildRun.KubePlural, "create", null, "build"),
            (GroupVersion.Group, GentooBuilder.KubePlural, "patch", null, "update, publish, shell"),
            (GroupVersion.Group, BuildRun.KubePlural, "patch", null, "resume"),
            ("", "pods", "get", "log", "logs"),
            ("", "pods", "create", "exec", "shell"),
        ];
        var denied = new List<string>();
        foreach (var (group, resource, verb, subresource, why) in needs)
        {
            var review = await cluster.Kube.AuthorizationV1.CreateSelfSubjectAccessReviewAsync(new V1SelfSubjectAccessReview
            {
                Spec = new V1SelfSubjectAccessReviewSpec
                {
                    ResourceAttributes = new V1ResourceAttributes { Group = group, Resource = resource, Verb = verb, Subresource = subresource, NamespaceProperty = cluster.Namespace },
                },
            }, cancellationToken: ct);
            if (review.Status?.Allowed != true)
            {
                denied.Add($"{verb} {resource}{(subresource is null ? "" : "/" + subresource)} ({why})");
            }
        }

        return denied.Count == 0
            ? new CheckResult("your access", true, $"everything the verbs do in namespace {cluster.Namespace}")
            : new CheckResult("your access", false, $"in namespace {cluster.Namespace} you may not: {string.Join(", ", denied)}");
    }

    private static async Task<CheckResult> SnapshotsAsync(Cluster cluster, CancellationToken ct)
    {
        var groups = await cluster.Kube.Apis.GetAPIVersionsAsync(ct);
        var snapshots = groups.Groups.FirstOrDefault(g => g.Name == "snapshot.storage.k8s.io");
        return snapshots?.Versions.Any(v => v.Version == "v1") == true
            ? new CheckResult("volume snapshots", true, "snapshot.storage.k8s.io/v1 is served: bootstraps snapshot and builders restore")
            : new CheckResult("volume snapshots", true, "snapshot.storage.k8s.io/v1 is not served: bootstraps copy their root instead (slower); install the external-snapshotter CRDs and a CSI driver to snapshot");
    }

    private static async Task<CheckResult> StorageClassAsync(Cluster cluster, CancellationToken ct)
    {
        try
        {
            var classes = await cluster.Kube.StorageV1.ListStorageClassAsync(cancellationToken: ct);
            var fallback = classes.Items.FirstOrDefault(c => c.Metadata.Annotations?.TryGetValue("storageclass.kubernetes.io/is-default-class", out var value) == true && value == "true");
            return fallback is not null
                ? new CheckResult("default StorageClass", true, fallback.Name())
                : new CheckResult("default StorageClass", false, classes.Items.Count == 0
                    ? "none: volumes cannot be provisioned (k3s has local-path; name one in spec.storage.*.storageClassName)"
                    : $"none marked default among {string.Join(", ", classes.Items.Select(c => c.Name()))}: name one in spec.storage.*.storageClassName, or mark one default");
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == System.Net.HttpStatusCode.Forbidden)
        {
            return new CheckResult("default StorageClass", false, "you may not list StorageClasses");
        }
    }

    /// <summary>Build pods run privileged (a chroot with bind mounts): Pod Security must allow it in the namespace.</summary>
    private static async Task<CheckResult> PodSecurityAsync(Cluster cluster, CancellationToken ct)
    {
        try
        {
            var ns = await cluster.Kube.CoreV1.ReadNamespaceAsync(cluster.Namespace, cancellationToken: ct);
            var enforce = ns.Metadata.Labels?.TryGetValue("pod-security.kubernetes.io/enforce", out var level) == true ? level : null;
            return enforce is null or "privileged"
                ? new CheckResult("Pod Security", true, $"namespace {cluster.Namespace} enforces {enforce ?? "no level (the cluster's default)"}; build pods run privileged")
                : new CheckResult("Pod Security", false, $"namespace {cluster.Namespace} enforces {enforce}, which refuses build pods (privileged): kubectl label namespace {cluster.Namespace} pod-security.kubernetes.io/enforce=privileged --overwrite");
        }
        catch (HttpOperationException e) when (e.Response.StatusCode is System.Net.HttpStatusCode.NotFound or System.Net.HttpStatusCode.Forbidden)
        {
            return new CheckResult("Pod Security", false, $"namespace {cluster.Namespace} cannot be read ({(int)e.Response.StatusCode})");
        }
    }
}
