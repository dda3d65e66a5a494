using Gentoo.Entities.V1Alpha1;
using Gentoo.Protocol;
using k8s;
using k8s.Autorest;
using k8s.Models;
using Microsoft.Extensions.Logging;

namespace Gentoo.Operator.Reconcilers;

/// <summary>How far a running agent pod got: the newest progress line at the end of its log.</summary>
public static class PodProgress
{
    /// <summary>Pod events say when a pod ends, not how far it got: its owner looks at its progress this often.</summary>
    public static async Task<BuildProgress?> ReadAsync(IKubernetes kube, V1Pod pod, ILogger log, CancellationToken ct)
    {
        try
        {
            await using var stream = await kube.CoreV1.ReadNamespacedPodLogAsync(pod.Name(), pod.Namespace(), container: AgentPod.Container,
                tailLines: 100, cancellationToken: ct);
            using var reader = new StreamReader(stream);
            return ProgressLines.Last(await reader.ReadToEndAsync(ct)) is { } last
                ? new BuildProgress { CurrentPackage = last.Package, Phase = last.Phase, Done = last.Done, Total = last.Total }
                : null;
        }
        catch (HttpOperationException e)
        {
            // The container may not have started yet, or its node is unreachable: progress is a nicety, not a verdict.
            log.LogDebug("pod {Namespace}/{Pod}: no log yet ({Status})", pod.Namespace(), pod.Name(), e.Response.StatusCode);
            return null;
        }
    }
}
