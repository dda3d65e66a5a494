using System.Net;
using System.Runtime.CompilerServices;
using System.Text.Json.Serialization.Metadata;
using k8s;
using k8s.Autorest;
using k8s.Models;

namespace Gentoo.Runtime;

/// <summary>A page of objects and the resourceVersion to watch from.</summary>
public sealed class ResourceList<T> : IKubernetesObject<V1ListMeta>, IItems<T>
{
    public string ApiVersion { get; set; } = "";

    public string Kind { get; set; } = "";

    public V1ListMeta Metadata { get; set; } = new();

    public IList<T> Items { get; set; } = [];
}

/// <summary>List and watch of one kind: what an informer needs.</summary>
public interface IListWatch<T>
    where T : class, IKubernetesObject<V1ObjectMeta>
{
    KindInfo Kind { get; }

    Task<ResourceList<T>> ListAsync(string? ns, CancellationToken ct);

    /// <summary>Events after <paramref name="resourceVersion"/>; a 410 Gone or other Status arrives through <paramref name="onError"/>.</summary>
    IAsyncEnumerable<(WatchEventType Type, T Object)> WatchAsync(string? ns, string resourceVersion, TimeSpan timeout, Action<Exception> onError, CancellationToken ct);
}

/// <summary>
/// Typed access to a kind of an API group (custom resources, VolumeSnapshots, Leases) through KubernetesClient's
/// custom object operations: list and watch for informers, and the writes reconcilers make.
/// </summary>
public sealed class ResourceApi<T>(IKubernetes kube) : IListWatch<T>
    where T : class, IKubernetesObject<V1ObjectMeta>
{
    private JsonTypeInfo<T>? contract;

    public KindInfo Kind { get; } = KindInfo.Of<T>();

    public async Task<ResourceList<T>> ListAsync(string? ns, CancellationToken ct)
    {
        using var response = ns is null
            ? await kube.CustomObjects.ListClusterCustomObjectWithHttpMessagesAsync<ResourceList<T>>(Kind.Group, Kind.Version, Kind.Plural, cancellationToken: ct)
            : await kube.CustomObjects.ListNamespacedCustomObjectWithHttpMessagesAsync<ResourceList<T>>(Kind.Group, Kind.Version, ns, Kind.Plural, cancellationToken: ct);
        return response.Body;
    }

    public IAsyncEnumerable<(WatchEventType Type, T Object)> WatchAsync(string? ns, string resourceVersion, TimeSpan timeout, Action<Exception> onError, CancellationToken ct) =>
        WatchStream.WatchAsync<T>(kube, Kind, ns, resourceVersion, timeout, labelSelector: null, onError, ct);

    public async Task<T?> GetAsync(string ns, string name, CancellationToken ct)
    {
        try
        {
            using var response = await kube.CustomObjects.GetNamespacedCustomObjectWithHttpMessagesAsync<T>(Kind.Group, Kind.Version, ns, Kind.Plural, name, cancellationToken: ct);
            return response.Body;
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }
    }

    public async Task<T> CreateAsync(T obj, CancellationToken ct)
    {
        using var response = await kube.CustomObjects.CreateNamespacedCustomObjectWithHttpMessagesAsync<T>(
            obj, Kind.Group, Kind.Version, obj.Metadata.NamespaceProperty, Kind.Plural, cancellationToken: ct);
        return response.Body;
    }

    /// <summary>PUT of the object; the API server answers 409 Conflict when <paramref name="obj"/> is stale.</summary>
    public async Task<T> ReplaceAsync(T obj, CancellationToken ct)
    {
        using var response = await kube.CustomObjects.ReplaceNamespacedCustomObjectWithHttpMessagesAsync<T>(
            obj, Kind.Group, Kind.Version, obj.Metadata.NamespaceProperty, Kind.Plural, obj.Metadata.Name, cancellationToken: ct);
        return response.Body;
    }

    /// <summary>
    /// PUT of the status subresource; spec and metadata changes in <paramref name="obj"/> are ignored by the server. The
    /// write reconcilers make most, so it is our own request (see <see cref="ApiRequest"/>).
    /// </summary>
    public Task<T> ReplaceStatusAsync(T obj, CancellationToken ct) =>
        ApiRequest.SendAsync(kube, HttpMethod.Put, Kind.ObjectPath(obj.Metadata.NamespaceProperty, obj.Metadata.Name) + "/status", obj,
            contract ??= ApiRequest.ContractOf<T>(), ct);

    public async Task<T> PatchAsync(string ns, string name, V1Patch patch, CancellationToken ct)
    {
        using var response = await kube.CustomObjects.PatchNamespacedCustomObjectWithHttpMessagesAsync<T>(
            patch, Kind.Group, Kind.Version, ns, Kind.Plural, name, cancellationToken: ct);
        return response.Body;
    }

    /// <summary>Deletes; true when it was there.</summary>
    public async Task<bool> DeleteAsync(string ns, string name, CancellationToken ct)
    {
        try
        {
            using var response = await kube.CustomObjects.DeleteNamespacedCustomObjectWithHttpMessagesAsync<object>(
                Kind.Group, Kind.Version, ns, Kind.Plural, name, cancellationToken: ct);
            return true;
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.NotFound)
        {
            return false;
        }
    }
}

/// <summary>
/// List and watch of a core (group "") kind, the list through KubernetesClient's typed operations; a cluster-scoped
/// kind's ignore the namespace.
/// </summary>
public sealed class CoreListWatch<T, TList>(
    IKubernetes kube, string? labelSelector, Func<string?, CancellationToken, Task<HttpOperationResponse<TList>>> list, bool clusterScoped = false) : IListWatch<T>
    where T : class, IKubernetesObject<V1ObjectMeta>
    where TList : IKubernetesObject<V1ListMeta>, IItems<T>
{
    public KindInfo Kind { get; } = KindInfo.Of<T>();

    public async Task<ResourceList<T>> ListAsync(string? ns, CancellationToken ct)
    {
        using var response = await list(ns, ct);
        return new ResourceList<T> { Metadata = response.Body.Metadata, Items = response.Body.Items };
    }

    public IAsyncEnumerable<(WatchEventType Type, T Object)> WatchAsync(string? ns, string resourceVersion, TimeSpan timeout, Action<Exception> onError, CancellationToken ct) =>
        WatchStream.WatchAsync<T>(kube, Kind, clusterScoped ? null : ns, resourceVersion, timeout, labelSelector, onError, ct);
}

/// <summary>The core kinds the operator watches.</summary>
public static class CoreKinds
{
    /// <summary>Pods, optionally only those matching a label selector (so a cache need not hold every pod of the cluster).</summary>
    public static IListWatch<V1Pod> Pods(IKubernetes kube, string? labelSelector = null) => new CoreListWatch<V1Pod, V1PodList>(kube, labelSelector, (ns, ct) => ns is null
        ? kube.CoreV1.ListPodForAllNamespacesWithHttpMessagesAsync(labelSelector: labelSelector, cancellationToken: ct)
        : kube.CoreV1.ListNamespacedPodWithHttpMessagesAsync(ns, labelSelector: labelSelector, cancellationToken: ct));

    public static IListWatch<V1PersistentVolumeClaim> PersistentVolumeClaims(IKubernetes kube, string? labelSelector = null) => new CoreListWatch<V1PersistentVolumeClaim, V1PersistentVolumeClaimList>(kube, labelSelector, (ns, ct) => ns is null
        ? kube.CoreV1.ListPersistentVolumeClaimForAllNamespacesWithHttpMessagesAsync(labelSelector: labelSelector, cancellationToken: ct)
        : kube.CoreV1.ListNamespacedPersistentVolumeClaimWithHttpMessagesAsync(ns, labelSelector: labelSelector, cancellationToken: ct));

    /// <summary>Nodes are cluster-scoped: the namespace argument is ignored.</summary>
    public static IListWatch<V1Node> Nodes(IKubernetes kube) => new CoreListWatch<V1Node, V1NodeList>(kube, null, (_, ct) =>
        kube.CoreV1.ListNodeWithHttpMessagesAsync(cancellationToken: ct), clusterScoped: true);
}
