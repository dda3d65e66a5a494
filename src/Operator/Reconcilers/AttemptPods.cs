using Gentoo.Protocol;
using Gentoo.Runtime;
using k8s;
using k8s.Models;

namespace Gentoo.Operator.Reconcilers;

/// <summary>How a reconciler finds the pod of the attempt it judges.</summary>
public static class AttemptPods
{
    /// <summary>
    /// The pod from the cache, else from the API server (a pod created a moment ago may not have reached the cache);
    /// when neither has it, a stand-in saying it was deleted, which judges as an interrupted attempt.
    /// </summary>
    public static async Task<V1Pod> ReadOrGoneAsync(IKubernetes kube, ICache<V1Pod> pods, string ns, string name, CancellationToken ct) =>
        pods.Get(new ObjectKey(ns, name))
        ?? await CoreWrites.ReadOrNullAsync(() => kube.CoreV1.ReadNamespacedPodAsync(name, ns, cancellationToken: ct))
        ?? new V1Pod { Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = ns }, Status = new V1PodStatus { Phase = PodPhases.Unknown, Reason = "Deleted" } };
}
