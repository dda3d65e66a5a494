using System.Net;
using k8s;
using k8s.Autorest;
using k8s.Models;

namespace Gentoo.Runtime;

/// <summary>Idempotent writes of the core objects reconcilers own: safe to repeat after a crash or a stale cache.</summary>
public static class CoreWrites
{
    /// <summary>Creates unless it exists (an earlier reconcile, or a cache that has not seen it yet, made it). True when created now.</summary>
    public static async Task<bool> CreateIfMissingAsync(Func<Task> create)
    {
        try
        {
            await create();
            return true;
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.Conflict)
        {
            return false;
        }
    }

    public static Task<bool> CreateIfMissingAsync(IKubernetes kube, V1PersistentVolumeClaim claim, CancellationToken ct) =>
        CreateIfMissingAsync(() => kube.CoreV1.CreateNamespacedPersistentVolumeClaimAsync(claim, claim.Namespace(), cancellationToken: ct));

    /// <summary>
    /// Creates the claim; null when that made it, else the claim that was there already (made by an earlier reconcile,
    /// or by someone else under the same name: the caller judges whose it is).
    /// </summary>
    public static async Task<V1PersistentVolumeClaim?> CreateOrReadAsync(IKubernetes kube, V1PersistentVolumeClaim claim, CancellationToken ct) =>
        await CreateIfMissingAsync(kube, claim, ct)
            ? null
            : await ReadOrNullAsync(() => kube.CoreV1.ReadNamespacedPersistentVolumeClaimAsync(claim.Name(), claim.Namespace(), cancellationToken: ct));

    public static Task<bool> CreateIfMissingAsync(IKubernetes kube, V1Pod pod, CancellationToken ct) =>
        CreateIfMissingAsync(() => kube.CoreV1.CreateNamespacedPodAsync(pod, pod.Namespace(), cancellationToken: ct));

    /// <summary>
    /// Makes the ConfigMap hold exactly <paramref name="desired"/>'s data; true when that changed anything. One left by
    /// an earlier object of <paramref name="owner"/>'s kind and name is adopted; one of anybody else's is never
    /// touched (<see cref="OwnershipConflictException"/>).
    /// </summary>
    public static async Task<bool> ApplyConfigMapAsync(IKubernetes kube, V1ConfigMap desired, IKubernetesObject<V1ObjectMeta> owner, CancellationToken ct)
    {
        var existing = await ReadConfigMapAsync(kube, desired.Namespace(), desired.Name(), ct);
        if (existing is null)
        {
            return await CreateIfMissingAsync(() => kube.CoreV1.CreateNamespacedConfigMapAsync(desired, desired.Namespace(), cancellationToken: ct));
        }

        var holder = Ownership.Of(existing.Metadata, desired.Metadata, owner);
        if (holder == Holder.Foreign)
        {
            throw new OwnershipConflictException(Ownership.Conflict("ConfigMap", existing.Metadata, owner));
        }

        var data = desired.Data ?? new Dictionary<string, string>();
        var current = existing.Data ?? new Dictionary<string, string>();
        if (holder == Holder.Ours && data.Count == current.Count && data.All(p => current.TryGetValue(p.Key, out var v) && v == p.Value))
        {
            return false;
        }

        existing.Metadata.OwnerReferences = desired.Metadata.OwnerReferences;
        existing.Data = data;
        await kube.CoreV1.ReplaceNamespacedConfigMapAsync(existing, existing.Name(), existing.Namespace(), cancellationToken: ct);
        return true;
    }

    /// <summary>Deletes; a 404 means it was already gone.</summary>
    public static async Task DeleteIfPresentAsync(Func<Task> delete)
    {
        try
        {
            await delete();
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.NotFound)
        {
        }
    }

    public static Task<V1Deployment?> ReadDeploymentAsync(IKubernetes kube, string ns, string name, CancellationToken ct) =>
        ReadOrNullAsync(() => kube.AppsV1.ReadNamespacedDeploymentAsync(name, ns, cancellationToken: ct));

    public static Task<V1Service?> ReadServiceAsync(IKubernetes kube, string ns, string name, CancellationToken ct) =>
        ReadOrNullAsync(() => kube.CoreV1.ReadNamespacedServiceAsync(name, ns, cancellationToken: ct));

    public static Task<V1ConfigMap?> ReadConfigMapAsync(IKubernetes kube, string ns, string name, CancellationToken ct) =>
        ReadOrNullAsync(() => kube.CoreV1.ReadNamespacedConfigMapAsync(name, ns, cancellationToken: ct));

    /// <summary>The answer of <paramref name="read"/>, or null when the API server says 404 Not Found.</summary>
    public static async Task<T?> ReadOrNullAsync<T>(Func<Task<T>> read)
        where T : class
    {
        try
        {
            return await read();
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }
    }
}
