using System.Text.Json.Nodes;
using Gentoo.Operator.Desired;
using Gentoo.Runtime;
using Gentoo.Portage.Kernels;
using k8s;
using k8s.Models;
using Microsoft.Extensions.Logging;

namespace Gentoo.Operator.Reconcilers;

/// <summary>Keeps every Node labelled with the kernel its kubelet reports, so build pods can require a minimum kernel.</summary>
public sealed class NodeKernelLabeller(IKubernetes kube, ICache<V1Node> nodes, ILogger<NodeKernelLabeller> log) : IReconciler<V1Node>
{
    public async Task<ReconcileResult> ReconcileAsync(ReconcileRequest request, CancellationToken ct)
    {
        if (nodes.Get(request.Key) is not { } node)
        {
            return ReconcileResult.Done;
        }

        if (!KernelVersion.TryParse(node.Status?.NodeInfo?.KernelVersion, out var kernel))
        {
            log.LogWarning("Node {Node} reports kernel {Kernel}, which is not a kernel release; leaving its labels alone", node.Name(), node.Status?.NodeInfo?.KernelVersion);
            return ReconcileResult.Done;
        }

        var desired = NodeKernel.Labels(kernel);
        var labels = node.Metadata.Labels ?? new Dictionary<string, string>();
        if (desired.All(p => labels.TryGetValue(p.Key, out var value) && value == p.Value))
        {
            return ReconcileResult.Done;
        }

        var patch = new JsonObject
        {
            ["metadata"] = new JsonObject { ["labels"] = new JsonObject(desired.Select(p => KeyValuePair.Create(p.Key, (JsonNode?)p.Value))) },
        }.ToJsonString();
        await kube.CoreV1.PatchNodeAsync(new V1Patch(patch, V1Patch.PatchType.MergePatch), node.Name(), cancellationToken: ct);
        log.LogInformation("Labelled node {Node} with kernel {Kernel} (code {Code})", node.Name(), kernel, kernel.Code);
        return ReconcileResult.Done;
    }
}
