using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Gentoo.Entities.V1Alpha1;
using Gentoo.Connection;
using k8s;
using k8s.Autorest;
using k8s.Models;

namespace Gentoo.Plugin;

/// <summary>A missing resource, a run not awaiting anyone, a bad flag: one line for the person, exit code 1.</summary>
public sealed class PluginException(string message) : Exception(message);

/// <summary>The cluster as kubectl sees it: the kubeconfig, its current (or chosen) context and namespace.</summary>
public sealed class Cluster(IKubernetes kube, string ns) : IDisposable
{
    public IKubernetes Kube { get; } = kube;

    public string Namespace { get; } = ns;

    public static Cluster Connect(string? kubeconfig, string? context, string? ns)
    {
        var config = Configuration(kubeconfig, context);
        return new Cluster(ApiClients.Create(config, TimeProvider.System), ns ?? config.Namespace ?? "default");
    }

    /// <summary>The client configuration of the kubeconfig kubectl would use (or <paramref name="kubeconfig"/>), at its current context or <paramref name="context"/>.</summary>
    public static KubernetesClientConfiguration Configuration(string? kubeconfig, string? context)
    {
        var candidates = KubeconfigFile.Candidates(kubeconfig);
        // kubectl merges the files of a KUBECONFIG list that exist; with none, the first is the one it names.
        var paths = candidates.Where(File.Exists).DefaultIfEmpty(candidates[0]).ToList();
        try
        {
            return KubeconfigFile.Load(paths, context, TimeProvider.System);
        }
        catch (Exception e) when (e is k8s.Exceptions.KubeConfigException or IOException)
        {
            throw new PluginException($"no usable kubeconfig: {string.Join(", ", paths)}: {e.Message}");
        }
    }

    public async Task<T?> GetAsync<T>(string name, CancellationToken ct)
        where T : class, IKubernetesObject<V1ObjectMeta>
    {
        var (group, version, plural) = Kind<T>();
        try
        {
            var body = await Kube.CustomObjects.GetNamespacedCustomObjectAsync<JsonElement>(group, version, Namespace, plural, name, ct);
            return KubernetesJson.Deserialize<T>(body);
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }
    }

    public async Task<T> RequireAsync<T>(string name, CancellationToken ct)
        where T : class, IKubernetesObject<V1ObjectMeta> =>
        await GetAsync<T>(name, ct) ?? throw new PluginException($"{Kind<T>().Plural}.{GroupVersion.Group} \"{name}\" not found in namespace {Namespace}");

    public async Task<IReadOnlyList<T>> ListAsync<T>(bool allNamespaces, CancellationToken ct)
        where T : class, IKubernetesObject<V1ObjectMeta>
    {
        var (group, version, plural) = Kind<T>();
        var body = allNamespaces
            ? await Kube.CustomObjects.ListClusterCustomObjectAsync<JsonElement>(group, version, plural, cancellationToken: ct)
            : await Kube.CustomObjects.ListNamespacedCustomObjectAsync<JsonElement>(group, version, Namespace, plural, cancellationToken: ct);
        return [.. body.GetProperty("items").EnumerateArray().Select(item => KubernetesJson.Deserialize<T>(item))];
    }

    /// <summary>What kubectl annotate does: a merge patch of the annotations.</summary>
    public async Task AnnotateAsync<T>(string name, IDictionary<string, string> annotations, CancellationToken ct)
        where T : class, IKubernetesObject<V1ObjectMeta>
    {
        var (group, version, plural) = Kind<T>();
        await Kube.CustomObjects.PatchNamespacedCustomObjectAsync(
            AnnotationPatch(annotations.Select(a => KeyValuePair.Create(a.Key, (string?)a.Value))), group, version, Namespace, plural, name, cancellationToken: ct);
    }

    /// <summary>One annotation set, or removed when <paramref name="value"/> is null (kubectl annotate KEY-).</summary>
    public async Task SetAnnotationAsync<T>(string name, string key, string? value, CancellationToken ct)
        where T : class, IKubernetesObject<V1ObjectMeta>
    {
        var (group, version, plural) = Kind<T>();
        await Kube.CustomObjects.PatchNamespacedCustomObjectAsync(
            AnnotationPatch([KeyValuePair.Create(key, value)]), group, version, Namespace, plural, name, cancellationToken: ct);
    }

    // A merge patch's text (the client sends a string as it is): built as JSON nodes, nothing reflected over.
    private static V1Patch AnnotationPatch(IEnumerable<KeyValuePair<string, string?>> annotations)
    {
        var values = new JsonObject(annotations.Select(a => KeyValuePair.Create(a.Key, a.Value is null ? null : (JsonNode)JsonValue.Create(a.Value))));
        return new V1Patch(new JsonObject { ["metadata"] = new JsonObject { ["annotations"] = values } }.ToJsonString(), V1Patch.PatchType.MergePatch);
    }

    public async Task<T> CreateAsync<T>(T obj, CancellationToken ct)
        where T : class, IKubernetesObject<V1ObjectMeta>
    {
        var (group, version, plural) = Kind<T>();
        var body = await Kube.CustomObjects.CreateNamespacedCustomObjectAsync<JsonElement>(obj, group, version, Namespace, plural, cancellationToken: ct);
        return KubernetesJson.Deserialize<T>(body);
    }

    private static (string Group, string Version, string Plural) Kind<T>()
    {
        var entity = (KubernetesEntityAttribute)Attribute.GetCustomAttribute(typeof(T), typeof(KubernetesEntityAttribute))!;
        return (entity.Group, entity.ApiVersion, entity.PluralName);
    }

    public void Dispose() => Kube.Dispose();
}
