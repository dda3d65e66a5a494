using System.Security.Cryptography;
using System.Text;
using Gentoo.Protocol;
using Gentoo.Runtime;
using Docker.DotNet;
using Docker.DotNet.Models;
using k8s;
using k8s.Autorest;
using k8s.Models;
using Microsoft.Extensions.Logging;

namespace Gentoo.Local;

/// <summary>
/// What a cluster's controller manager and load balancer do for the few built-in kinds the operator makes, for one
/// machine: a Deployment keeps its replicas of its pod template running (an old template's pods go before the new ones
/// start, one machine having one port to publish), and a LoadBalancer Service gets this machine's address as its ingress,
/// its ports being published there by <see cref="DockerKubelet"/>.
/// </summary>
/// <param name="snapshots">Snapshots and restores of claims' volumes; without, the machine offers no StorageClass and no snapshots.</param>
public sealed class LocalWorkloads(IKubernetes kube, IDockerClient docker, DockerKubeletOptions options, ILogger<LocalWorkloads> log, LocalSnapshots? snapshots = null)
{
    public const string TemplateHashLabel = "pod-template-hash";

    /// <summary>The claims seen on the previous pass, by namespace and name, with their uids and the volumes they are bound to.</summary>
    private Dictionary<(string Namespace, string Name), KnownClaim> knownClaims = [];

    /// <param name="Uid">Empty while the claim's volume waits to be removed: taken as gone on every pass until it is.</param>
    private readonly record struct KnownClaim(string Uid, string? Volume);

    /// <summary>Whether a pass has run: claims gone before this process started are never taken as deleted.</summary>
    private bool claimsListed;

    public async Task RunAsync(CancellationToken ct)
    {
        var classesMade = snapshots is null;
        while (!ct.IsCancellationRequested)
        {
            try
            {
                if (!classesMade)
                {
                    await snapshots!.EnsureClassesAsync(ct);
                    classesMade = true;
                }

                await PublishServicesAsync(ct);
                await ProvisionClaimsAsync(ct);
                if (snapshots is not null)
                {
                    await snapshots.SnapshotAsync(ct);
                }

                var pods = (await kube.CoreV1.ListPodForAllNamespacesAsync(cancellationToken: ct)).Items;
                foreach (var deployment in (await kube.AppsV1.ListDeploymentForAllNamespacesAsync(cancellationToken: ct)).Items)
                {
                    await ReconcileAsync(deployment, pods.Where(p => p.Metadata.OwnerReferences?.Any(o => o.Uid == deployment.Metadata.Uid) == true).ToList(), ct);
                }
            }
            catch (HttpOperationException e) when (!ct.IsCancellationRequested)
            {
                log.LogWarning("Deployments, Services and claims could not be brought in step ({Status}: {Content}); trying again", e.Response.StatusCode, e.Response.Content);
            }
            catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
            {
                log.LogWarning(e, "Deployments, Services and claims could not be brought in step ({Message}); trying again", e.Message);
            }

            await Task.Delay(options.Resync, ct).ContinueWith(_ => { }, TaskScheduler.Default);
        }
    }

    /// <summary>The pod template's identity: a changed template makes new pods.</summary>
    public static string TemplateHash(V1PodTemplateSpec template) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(KubernetesJson.Serialize(template))))[..10];

    private async Task PublishServicesAsync(CancellationToken ct)
    {
        foreach (var service in (await kube.CoreV1.ListServiceForAllNamespacesAsync(cancellationToken: ct)).Items.Where(s => s.Spec?.Type == "LoadBalancer"))
        {
            if (service.Status?.LoadBalancer?.Ingress is [{ } only] && only.Ip == options.ServiceAddress)
            {
                continue;
            }

            service.Status ??= new V1ServiceStatus();
            service.Status.LoadBalancer = new V1LoadBalancerStatus { Ingress = [new V1LoadBalancerIngress { Ip = options.ServiceAddress }] };
            await kube.CoreV1.ReplaceNamespacedServiceStatusAsync(service, service.Metadata.Name, service.Metadata.NamespaceProperty, cancellationToken: ct);
            log.LogInformation("Service {Namespace}/{Name}: published on {Address} port {Ports}", service.Metadata.NamespaceProperty, service.Metadata.Name,
                options.ServiceAddress, string.Join(", ", (service.Spec.Ports ?? []).Select(p => p.Port)));
        }
    }

    /// <summary>
    /// The dynamic provisioner with reclaim policy Delete, for one machine: a claim gets its Docker volume and is Bound;
    /// a claim this process saw deleted takes its volume with it. A claim missing when local mode starts (a state directory
    /// lost or replaced) never deletes a volume: what was built stays until a person removes it.
    /// </summary>
    private async Task ProvisionClaimsAsync(CancellationToken ct)
    {
        var claims = (await kube.CoreV1.ListPersistentVolumeClaimForAllNamespacesAsync(cancellationToken: ct)).Items;
        var current = claims.ToDictionary(c => (c.Metadata.NamespaceProperty, c.Metadata.Name), c => new KnownClaim(c.Metadata.Uid, c.Spec?.VolumeName));

        // A claim gone, or replaced by a new one of its name (its uid differs), takes its volume with it first: a new
        // claim never gets an old one's data. A volume still mounted is removed on a later pass, its new claim waiting.
        var reclaiming = new Dictionary<(string Namespace, string Name), KnownClaim>();
        if (claimsListed)
        {
            foreach (var (key, known) in knownClaims.Where(k => !current.TryGetValue(k.Key, out var now) || now.Uid != k.Value.Uid))
            {
                if (!await ReclaimAsync(key.Namespace, key.Name, known.Volume ?? LocalNames.ClaimVolume(options.NodeName, key.Namespace, key.Name), ct))
                {
                    reclaiming[key] = known with { Uid = "" };
                }
            }
        }

        foreach (var pending in claims.Where(c => c.Status?.Phase != "Bound" && c.Metadata.DeletionTimestamp is null
                     && !reclaiming.ContainsKey((c.Metadata.NamespaceProperty, c.Metadata.Name))))
        {
            await BindAsync(pending, ct);
        }

        knownClaims = current.ToDictionary(k => k.Key, k => reclaiming.GetValueOrDefault(k.Key, k.Value));
        foreach (var (key, waiting) in reclaiming.Where(k => !current.ContainsKey(k.Key)))
        {
            knownClaims[key] = waiting;
        }

        claimsListed = true;
    }

    private async Task BindAsync(V1PersistentVolumeClaim claim, CancellationToken ct)
    {
        var ns = claim.Metadata.NamespaceProperty;
        var volume = await EarlierVolumeAsync(ns, claim.Metadata.Name, ct) ?? LocalNames.ClaimVolume(options.NodeName, ns, claim.Metadata.Name);
        var labels = LocalNames.ClaimVolumeLabels(ns, claim.Metadata.Name, options.NodeName);
        await docker.Volumes.CreateAsync(new VolumesCreateParameters { Name = volume, Labels = labels }, ct);
        if (snapshots is not null && !snapshots.Restored(claim, volume, labels, ct))
        {
            return; // bound once its snapshot is copied in, as a provisioner restores before it binds
        }

        if (claim.Spec.VolumeName != volume)
        {
            claim.Spec.VolumeName = volume;
            claim = await kube.CoreV1.ReplaceNamespacedPersistentVolumeClaimAsync(claim, claim.Metadata.Name, ns, cancellationToken: ct);
        }

        claim.Status ??= new V1PersistentVolumeClaimStatus();
        claim.Status.Phase = "Bound";
        claim.Status.AccessModes = claim.Spec.AccessModes;
        claim.Status.Capacity = claim.Spec.Resources?.Requests is { } requests && requests.TryGetValue("storage", out var size)
            ? new Dictionary<string, ResourceQuantity> { ["storage"] = size }
            : null;
        await kube.CoreV1.ReplaceNamespacedPersistentVolumeClaimStatusAsync(claim, claim.Metadata.Name, ns, cancellationToken: ct);
        log.LogInformation("PersistentVolumeClaim {Namespace}/{Name}: bound to Docker volume {Volume}", ns, claim.Metadata.Name, volume);
    }

    /// <summary>
    /// The volume local mode 0.1 made for this claim on this machine, when there is one and none of the present naming:
    /// an upgraded machine binds its claims to the data they had.
    /// </summary>
    private async Task<string?> EarlierVolumeAsync(string ns, string claim, CancellationToken ct)
    {
        if (await LocalVolumes.InspectOrNullAsync(docker, LocalNames.ClaimVolume(options.NodeName, ns, claim), ct) is not null)
        {
            return null;
        }

        var earlier = LocalNames.EarlierClaimVolume(ns, claim);
        return LocalVolumes.IsOf(await LocalVolumes.InspectOrNullAsync(docker, earlier, ct), options.NodeName) ? earlier : null;
    }

    /// <summary>Removes a deleted claim's volume; false while a container still mounts it.</summary>
    private async Task<bool> ReclaimAsync(string ns, string claim, string volume, CancellationToken ct)
    {
        if (!LocalVolumes.IsOf(await LocalVolumes.InspectOrNullAsync(docker, volume, ct), options.NodeName))
        {
            return true; // gone already, or another instance's
        }

        try
        {
            await docker.Volumes.RemoveAsync(volume, force: false, ct);
            log.LogInformation("PersistentVolumeClaim {Namespace}/{Name} deleted: Docker volume {Volume} removed", ns, claim, volume);
            return true;
        }
        catch (DockerApiException e) when (e.StatusCode == System.Net.HttpStatusCode.NotFound)
        {
            return true;
        }
        catch (DockerApiException e) when (e.StatusCode == System.Net.HttpStatusCode.Conflict)
        {
            log.LogInformation("Docker volume {Volume} is still in use; removing it later", volume);
            return false;
        }
    }

    private async Task ReconcileAsync(V1Deployment deployment, IReadOnlyList<V1Pod> owned, CancellationToken ct)
    {
        if (deployment.Metadata.DeletionTimestamp is not null)
        {
            return;
        }

        var ns = deployment.Metadata.NamespaceProperty;
        var hash = TemplateHash(deployment.Spec.Template);
        var live = owned.Where(p => p.Metadata.DeletionTimestamp is null).ToList();
        foreach (var stale in live.Where(p => HashOf(p) != hash
                     || (PodPhases.HasEnded(p.Status?.Phase) && deployment.Spec.Template.Spec.RestartPolicy is null or "Always")))
        {
            // The old template's pods, and pods that ended where the template wants them running, are replaced.
            await CoreWrites.DeleteIfPresentAsync(() => kube.CoreV1.DeleteNamespacedPodAsync(stale.Metadata.Name, stale.Metadata.NamespaceProperty, cancellationToken: ct));
        }

        var current = live.Where(p => HashOf(p) == hash && !PodPhases.HasEnded(p.Status?.Phase)).ToList();
        var stopping = owned.Count(p => HashOf(p) != hash || p.Metadata.DeletionTimestamp is not null);
        var wanted = deployment.Spec.Replicas ?? 1;
        if (stopping == 0)
        {
            for (var i = current.Count; i < wanted; i++)
            {
                await kube.CoreV1.CreateNamespacedPodAsync(Pod(deployment, hash), ns, cancellationToken: ct);
                log.LogInformation("Deployment {Namespace}/{Name}: pod of template {Hash} made", ns, deployment.Metadata.Name, hash);
            }
        }

        var ready = current.Count(p => p.Status?.Conditions?.Any(c => c.Type == "Ready" && c.Status == "True") == true);
        var status = new V1DeploymentStatus
        {
            ObservedGeneration = deployment.Metadata.Generation,
            Replicas = owned.Count(p => p.Metadata.DeletionTimestamp is null),
            UpdatedReplicas = current.Count,
            ReadyReplicas = ready,
            AvailableReplicas = ready,
            UnavailableReplicas = Math.Max(0, wanted - ready),
            Conditions =
            [
                new V1DeploymentCondition
                {
                    Type = "Available",
                    Status = ready >= wanted ? "True" : "False",
                    Reason = ready >= wanted ? "MinimumReplicasAvailable" : "MinimumReplicasUnavailable",
                    Message = ready >= wanted ? "Deployment has minimum availability." : "Deployment does not have minimum availability.",
                    LastUpdateTime = deployment.Status?.Conditions?.FirstOrDefault()?.LastUpdateTime ?? DateTime.UtcNow,
                    LastTransitionTime = deployment.Status?.Conditions?.FirstOrDefault(c => c.Status == (ready >= wanted ? "True" : "False"))?.LastTransitionTime ?? DateTime.UtcNow,
                },
            ],
        };
        if (deployment.Status is null || KubernetesJson.Serialize(status) != KubernetesJson.Serialize(deployment.Status))
        {
            deployment.Status = status;
            await kube.AppsV1.ReplaceNamespacedDeploymentStatusAsync(deployment, deployment.Metadata.Name, ns, cancellationToken: ct);
        }
    }

    private static string? HashOf(V1Pod pod) => pod.Metadata.Labels is { } labels && labels.TryGetValue(TemplateHashLabel, out var hash) ? hash : null;

    private static V1Pod Pod(V1Deployment deployment, string hash)
    {
        var template = deployment.Spec.Template;
        var labels = new Dictionary<string, string>(template.Metadata?.Labels ?? new Dictionary<string, string>()) { [TemplateHashLabel] = hash };
        return new V1Pod
        {
            Metadata = new V1ObjectMeta
            {
                GenerateName = $"{deployment.Metadata.Name}-{hash}-",
                Labels = labels,
                Annotations = template.Metadata?.Annotations,
                OwnerReferences =
                [
                    new V1OwnerReference
                    {
                        ApiVersion = "apps/v1", Kind = "Deployment", Name = deployment.Metadata.Name, Uid = deployment.Metadata.Uid,
                        Controller = true, BlockOwnerDeletion = true,
                    },
                ],
            },
            Spec = template.Spec,
        };
    }
}
