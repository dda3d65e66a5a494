using Gentoo.Protocol;

namespace Gentoo.Operator.Decisions;

/// <summary>What an update pod found, in one status line: the packages a world update would merge.</summary>
public static class UpdatePreviews
{
    private const string More = "... ";

    /// <summary>
    /// "a world update would merge 3 package(s): a, b, c", or that nothing needs merging. The agent's report lists
    /// the planned packages, cut to fit its termination message with a "... N more" entry, which is counted.
    /// </summary>
    public static string Summary(AgentReport? report)
    {
        if (report is not { Atoms.Count: > 0 })
        {
            return "a world update would merge nothing: the builder is current";
        }

        var listed = report.Atoms.Where(a => !a.StartsWith(More, StringComparison.Ordinal)).ToList();
        var total = report.AtomCount;
        var left = total - listed.Count;
        return $"a world update would merge {total} package(s): {string.Join(", ", listed)}{(left > 0 ? $" and {left} more" : "")}";
    }
}
