using System.Globalization;
using k8s.Models;

namespace Gentoo.Local;

/// <summary>Whether a pod may run on this machine's one Node: its nodeSelector and required node affinity, as the scheduler reads them.</summary>
public static class NodeSelection
{
    /// <summary>The scheduler's message when no node fits, or null when this one does.</summary>
    public static string? Refusal(V1Pod pod, IDictionary<string, string> nodeLabels)
    {
        var selector = pod.Spec.NodeSelector ?? new Dictionary<string, string>();
        var selectorFits = selector.All(p => nodeLabels.TryGetValue(p.Key, out var value) && value == p.Value);
        var terms = pod.Spec.Affinity?.NodeAffinity?.RequiredDuringSchedulingIgnoredDuringExecution?.NodeSelectorTerms;
        // Terms are ORed, the expressions of one term ANDed; no terms at all is no constraint.
        var affinityFits = terms is null || terms.Count == 0 || terms.Any(t => (t.MatchExpressions ?? []).All(e => Matches(e, nodeLabels)));
        return selectorFits && affinityFits ? null : "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector.";
    }

    private static bool Matches(V1NodeSelectorRequirement requirement, IDictionary<string, string> labels)
    {
        var has = labels.TryGetValue(requirement.Key, out var value);
        return requirement.OperatorProperty switch
        {
            "In" => has && requirement.Values?.Contains(value!) == true,
            "NotIn" => !has || requirement.Values?.Contains(value!) != true,
            "Exists" => has,
            "DoesNotExist" => !has,
            "Gt" => has && Compare(value!, requirement) > 0,
            "Lt" => has && Compare(value!, requirement) < 0,
            _ => false,
        };
    }

    /// <summary>Gt and Lt compare integers; a label or value that is none never matches.</summary>
    private static int Compare(string label, V1NodeSelectorRequirement requirement) =>
        long.TryParse(label, NumberStyles.Integer, CultureInfo.InvariantCulture, out var have)
        && requirement.Values is [var text] && long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var want)
            ? have.CompareTo(want)
            : 0;
}
