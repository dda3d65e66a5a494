using System.Globalization;
using Gentoo.Entities.V1Alpha1;
using Gentoo.Portage.Kernels;
using k8s.Models;

namespace Gentoo.Operator.Desired;

/// <summary>
/// A node's kernel, and the labels and node affinity that place builds on nodes whose kernel is new enough.
/// The operator labels every Node with its kernel (from status.nodeInfo.kernelVersion) as a version and as a
/// LINUX_VERSION_CODE integer, so that node affinity "Gt" can compare it; node-feature-discovery's kernel labels
/// are understood too, for nodes the operator has not labelled.
/// </summary>
public static class NodeKernel
{
    public const string VersionLabel = GroupVersion.Group + "/kernel-version";
    public const string CodeLabel = GroupVersion.Group + "/kernel-code";
    public const string NfdMajor = "feature.node.kubernetes.io/kernel-version.major";
    public const string NfdMinor = "feature.node.kubernetes.io/kernel-version.minor";
    public const string NfdRevision = "feature.node.kubernetes.io/kernel-version.revision";
    public const string NfdFull = "feature.node.kubernetes.io/kernel-version.full";

    /// <summary>The node's kernel: what the kubelet reports, else our labels, else node-feature-discovery's.</summary>
    public static KernelVersion? Of(V1Node node)
    {
        if (KernelVersion.TryParse(node.Status?.NodeInfo?.KernelVersion, out var reported))
        {
            return reported;
        }

        var labels = node.Metadata?.Labels ?? new Dictionary<string, string>();
        if (labels.TryGetValue(CodeLabel, out var code) && int.TryParse(code, NumberStyles.None, CultureInfo.InvariantCulture, out var value))
        {
            return KernelVersion.FromCode(value);
        }

        if (labels.TryGetValue(NfdFull, out var full) && KernelVersion.TryParse(full, out var nfd))
        {
            return nfd;
        }

        return labels.TryGetValue(NfdMajor, out var major) && labels.TryGetValue(NfdMinor, out var minor)
            && KernelVersion.TryParse($"{major}.{minor}.{(labels.TryGetValue(NfdRevision, out var revision) ? revision : "0")}", out var parts)
                ? parts
                : null;
    }

    /// <summary>The labels the operator keeps on a node with this kernel.</summary>
    public static IReadOnlyDictionary<string, string> Labels(KernelVersion kernel) => new Dictionary<string, string>
    {
        [VersionLabel] = kernel.ToString(),
        [CodeLabel] = kernel.Code.ToString(CultureInfo.InvariantCulture),
    };

    /// <summary>
    /// Required node affinity for "kernel at least <paramref name="minimum"/>": our code label Gt (code - 1), or, for
    /// nodes only node-feature-discovery labelled, the same comparison spelled out over its major/minor/revision labels.
    /// </summary>
    public static V1NodeSelector AtLeast(KernelVersion minimum)
    {
        static V1NodeSelectorRequirement Gt(string key, int value) => new() { Key = key, OperatorProperty = "Gt", Values = [(value - 1).ToString(CultureInfo.InvariantCulture)] };
        static V1NodeSelectorRequirement Is(string key, int value) => new() { Key = key, OperatorProperty = "In", Values = [value.ToString(CultureInfo.InvariantCulture)] };
        static V1NodeSelectorRequirement Absent(string key) => new() { Key = key, OperatorProperty = "DoesNotExist" };

        return new V1NodeSelector
        {
            NodeSelectorTerms =
            [
                new V1NodeSelectorTerm { MatchExpressions = [Gt(CodeLabel, minimum.Code)] },
                new V1NodeSelectorTerm { MatchExpressions = [Absent(CodeLabel), Gt(NfdMajor, minimum.Major + 1)] },
                new V1NodeSelectorTerm { MatchExpressions = [Absent(CodeLabel), Is(NfdMajor, minimum.Major), Gt(NfdMinor, minimum.Minor + 1)] },
                new V1NodeSelectorTerm { MatchExpressions = [Absent(CodeLabel), Is(NfdMajor, minimum.Major), Is(NfdMinor, minimum.Minor), Gt(NfdRevision, minimum.Patch)] },
            ],
        };
    }

    /// <summary>Whether the node qualifies for <paramref name="minimum"/> (what the affinity says, evaluated here to explain "no node").</summary>
    public static bool Satisfies(V1Node node, KernelVersion minimum) => Of(node) is { } kernel && kernel >= minimum;
}
