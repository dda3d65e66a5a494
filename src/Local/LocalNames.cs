using k8s.Models;

namespace Gentoo.Local;

/// <summary>
/// The names and labels of what local mode makes in the Docker engine, so that it finds its own containers and volumes
/// again after a restart and never touches anybody else's.
/// </summary>
public static class LocalNames
{
    public const string Prefix = "gentoo-builder";

    public const string ManagedLabel = "io.gentoo-builder.managed";
    public const string NamespaceLabel = "io.gentoo-builder.namespace";
    public const string PodLabel = "io.gentoo-builder.pod";
    public const string PodUidLabel = "io.gentoo-builder.pod-uid";
    public const string ContainerLabel = "io.gentoo-builder.container";
    public const string ClaimLabel = "io.gentoo-builder.claim";

    /// <summary>The Node a container was made for: two local instances sharing one Docker engine leave each other's alone.</summary>
    public const string NodeLabel = "io.gentoo-builder.node";

    /// <summary>
    /// The Docker volume a claim is bound to when first provisioned: by this machine's Node, namespace and claim name, so
    /// that a claim kept across deletions keeps its data and two local instances sharing one Docker engine never share a
    /// volume. The claim's spec.volumeName says which volume it is bound to; only that is ever mounted.
    /// </summary>
    public static string ClaimVolume(string nodeName, string ns, string claim) => $"{Prefix}.{nodeName}.{ns}.{claim}";

    /// <summary>Where local mode 0.1 kept a claim's data, by namespace and claim name: still bound to when it is this machine's.</summary>
    public static string EarlierClaimVolume(string ns, string claim) => $"{Prefix}.{ns}.{claim}";

    /// <summary>A claim's volume's labels: whose claim it is, and which local instance may remove it when the claim is deleted.</summary>
    public static Dictionary<string, string> ClaimVolumeLabels(string ns, string claim, string nodeName) => new()
    {
        [ManagedLabel] = "true",
        [NamespaceLabel] = ns,
        [ClaimLabel] = claim,
        [NodeLabel] = nodeName,
    };

    /// <summary>A pod's container: a pod re-created under its name gets new containers (the uid differs).</summary>
    public static string Container(V1Pod pod, string container)
    {
        var uid = Uid(pod);
        return $"{Prefix}.{pod.Metadata.NamespaceProperty}.{pod.Metadata.Name}.{container}.{uid[..Math.Min(8, uid.Length)]}";
    }

    /// <summary>The container of a pod as the API server hands it over (JSON), for its log and exec.</summary>
    public static (V1Pod Pod, string Name) Container(System.Text.Json.Nodes.JsonObject pod, string container)
    {
        var typed = k8s.KubernetesJson.Deserialize<V1Pod>(pod.ToJsonString());
        return (typed, Container(typed, container));
    }

    public static string Uid(V1Pod pod) => pod.Metadata.Uid ?? throw new ArgumentException($"pod {pod.Metadata.Name} has no uid: it was not read from an API server");
}
