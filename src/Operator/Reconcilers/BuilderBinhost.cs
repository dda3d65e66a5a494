using System.Security.Cryptography;
using Gentoo.Entities.V1Alpha1;
using Gentoo.Operator.Desired;
using Gentoo.Runtime;
using k8s;
using k8s.Models;
using Microsoft.Extensions.Logging;

namespace Gentoo.Operator.Reconcilers;

/// <summary>A builder's binhost Deployment and Service, following the node its builds use.</summary>
public sealed class BuilderBinhost(IKubernetes kube, PodSettings settings, ILogger log)
{
    /// <summary>
    /// Runs the builder's binhost (unless disabled) on the node its pods last used, where a ReadWriteOnce binpkgs
    /// volume is attached, and records where clients find it.
    /// </summary>
    public async Task RunAsync(GentooBuilder builder, IReadOnlyList<BuildRun> ofBuilder, V1PersistentVolumeClaim? binpkgs, StatusChanges<GentooBuilder> changes, CancellationToken ct)
    {
        var ns = builder.Namespace();
        var name = DesiredBinhost.Name(builder.Name());
        var existing = await CoreWrites.ReadDeploymentAsync(kube, ns, name, ct);
        if (builder.Spec.Binhost?.Enabled == false)
        {
            await CoreWrites.DeleteIfPresentAsync(() => kube.AppsV1.DeleteNamespacedDeploymentAsync(name, ns, cancellationToken: ct));
            await CoreWrites.DeleteIfPresentAsync(() => kube.CoreV1.DeleteNamespacedServiceAsync(name, ns, cancellationToken: ct));
            await RemoveAccountAsync(ns, name, ct);
            changes.Add(b => (b.Status.BinhostUrl, b.Status.BuildRequestTokenSecret) = (null, null));
            return;
        }

        await EnsureAccountAsync(builder, ct);
        var node = ofBuilder.SelectMany(r => r.Status?.Attempts ?? []).Where(a => a.Node is not null).MaxBy(a => a.StartTime ?? DateTime.MinValue)?.Node;
        var desired = DesiredBinhost.Deployment(builder, settings.OperatorImage, DesiredBinhost.FollowsBuilds(builder, binpkgs), node);
        if (existing is null)
        {
            await CoreWrites.CreateIfMissingAsync(() => kube.AppsV1.CreateNamespacedDeploymentAsync(desired, ns, cancellationToken: ct));
        }
        else if (DesiredBinhost.Differs(existing, desired))
        {
            (existing.Spec.Template, existing.Spec.Strategy) = (desired.Spec.Template, desired.Spec.Strategy);
            await kube.AppsV1.ReplaceNamespacedDeploymentAsync(existing, name, ns, cancellationToken: ct);
            log.LogInformation("GentooBuilder {Namespace}/{Name}: binhost updated (node {Node}, builds on demand {OnDemand})", ns, builder.Name(), node ?? "(any)", DesiredBinhost.OnDemand(builder));
        }

        await CoreWrites.CreateIfMissingAsync(() => kube.CoreV1.CreateNamespacedServiceAsync(DesiredBinhost.Service(builder, settings.BinhostServiceType), ns, cancellationToken: ct));
        var service = await CoreWrites.ReadServiceAsync(kube, ns, name, ct);
        changes.Add(b =>
            (b.Status.BinhostUrl, b.Status.BuildRequestTokenSecret) = (DesiredBinhost.Url(b, service), DesiredBinhost.OnDemand(b) ? DesiredBinhost.TokenSecretName(b) : null));
    }

    /// <summary>
    /// The binhost's account and its grant, which follows builds on demand (create only while they are on); the token
    /// Secret the operator makes for them when the builder names none.
    /// </summary>
    private async Task EnsureAccountAsync(GentooBuilder builder, CancellationToken ct)
    {
        var ns = builder.Namespace();
        var role = DesiredBinhost.Role(builder);
        await CoreWrites.CreateIfMissingAsync(() => kube.CoreV1.CreateNamespacedServiceAccountAsync(DesiredBinhost.ServiceAccount(builder), ns, cancellationToken: ct));
        if (await CoreWrites.ReadOrNullAsync(() => kube.RbacAuthorizationV1.ReadNamespacedRoleAsync(role.Name(), ns, cancellationToken: ct)) is { } existing)
        {
            if (!(existing.Rules ?? []).SelectMany(r => r.Verbs).Order(StringComparer.Ordinal).SequenceEqual(role.Rules.SelectMany(r => r.Verbs).Order(StringComparer.Ordinal)))
            {
                existing.Rules = role.Rules;
                await kube.RbacAuthorizationV1.ReplaceNamespacedRoleAsync(existing, role.Name(), ns, cancellationToken: ct);
                log.LogInformation("GentooBuilder {Namespace}/{Name}: the binhost may now {Verbs} BuildRuns", ns, builder.Name(), string.Join(", ", role.Rules[0].Verbs));
            }
        }
        else
        {
            await CoreWrites.CreateIfMissingAsync(() => kube.RbacAuthorizationV1.CreateNamespacedRoleAsync(role, ns, cancellationToken: ct));
        }

        await CoreWrites.CreateIfMissingAsync(() => kube.RbacAuthorizationV1.CreateNamespacedRoleBindingAsync(DesiredBinhost.RoleBinding(builder), ns, cancellationToken: ct));
        if (DesiredBinhost.OnDemand(builder) && builder.Spec.Binhost?.OnDemand?.TokenSecretRef is null
            && await CoreWrites.CreateIfMissingAsync(() => kube.CoreV1.CreateNamespacedSecretAsync(DesiredBinhost.TokenSecret(builder, RandomNumberGenerator.GetHexString(64, lowercase: true)), ns, cancellationToken: ct)))
        {
            log.LogInformation("GentooBuilder {Namespace}/{Name}: made the build-request token in Secret {Secret}", ns, builder.Name(), DesiredBinhost.TokenSecretName(builder));
        }
    }

    private async Task RemoveAccountAsync(string ns, string name, CancellationToken ct)
    {
        await CoreWrites.DeleteIfPresentAsync(() => kube.RbacAuthorizationV1.DeleteNamespacedRoleBindingAsync(name, ns, cancellationToken: ct));
        await CoreWrites.DeleteIfPresentAsync(() => kube.RbacAuthorizationV1.DeleteNamespacedRoleAsync(name, ns, cancellationToken: ct));
        await CoreWrites.DeleteIfPresentAsync(() => kube.CoreV1.DeleteNamespacedServiceAccountAsync(name, ns, cancellationToken: ct));
    }
}
