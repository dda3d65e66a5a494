using Gentoo.Entities.V1Alpha1;
using Gentoo.Portage.Kernels;
using k8s.Models;

namespace Gentoo.Operator.Decisions;

/// <summary>
/// One build at a time per builder: the run that holds it is the one that started (and has not finished: a run
/// awaiting a person keeps the build tree exactly as it was), else the oldest waiting run. The others are Queued.
/// </summary>
/// <remarks>
/// Normally one open run at most has attempts. A cache that lagged behind an older run's status can have let a newer
/// one start too; then the run whose attempt is under way holds, so its pod's end is judged before the other goes on.
/// </remarks>
public static class BuilderQueue
{
    public static BuildRun? Holder(IEnumerable<BuildRun> runsOfBuilder)
    {
        var open = runsOfBuilder
            .Where(r => r.Metadata.DeletionTimestamp is null && !(r.Status?.Phase).IsFinished())
            .OrderBy(r => r.Metadata.CreationTimestamp ?? DateTime.MaxValue)
            .ThenBy(r => r.Metadata.Name, StringComparer.Ordinal)
            .ToList();
        return open.FirstOrDefault(r => (r.Status?.AttemptCount ?? 0) > 0 && r.Status!.Phase is BuildRunPhase.Pending or BuildRunPhase.Running)
            ?? open.FirstOrDefault(r => (r.Status?.AttemptCount ?? 0) > 0)
            ?? open.FirstOrDefault();
    }

    /// <summary>
    /// Whether a claim on the builder's volumes is a leftover to clear: its run is gone or finished (a run releases its
    /// claim itself when its pod ends; this clears what a run deleted or finished left behind). <paramref name="claimant"/>
    /// must be read fresh when a cache does not show it: a run created a moment ago may claim before a cache has it.
    /// </summary>
    public static bool IsLeftoverClaim(string? claimedBy, BuildRun? claimant) =>
        claimedBy is not null && (claimant is null || (claimant.Status?.Phase).IsFinished());

    /// <summary>Why <paramref name="run"/> waits, or null when it holds the builder.</summary>
    public static string? WaitingFor(BuildRun run, BuildRun? holder) =>
        holder is null || holder.Metadata.Name == run.Metadata.Name ? null : $"BuildRun {holder.Metadata.Name} is using builder {run.Spec.BuilderRef.Name}";
}

/// <summary>The kernel a run's node must have: the highest of the run's and builder's minKernel and, with kernelFromBinaries, what built binaries need.</summary>
public static class RequiredKernels
{
    public static KernelRequirement? For(BuildRun run, GentooBuilder builder)
    {
        var candidates = new List<(KernelVersion Version, string Source)>();
        foreach (var spec in new[] { run.Spec.MinKernel, builder.Spec.MinKernel })
        {
            if (KernelVersion.TryParse(spec, out var version))
            {
                candidates.Add((version, "Spec"));
            }
        }

        if (builder.Spec.KernelFromBinaries != false && KernelVersion.TryParse(builder.Status?.RequiredKernel?.Version, out var built))
        {
            candidates.Add((built, "Binaries"));
        }

        if (candidates.Count == 0)
        {
            return null;
        }

        var highest = candidates.MaxBy(c => c.Version);
        return new KernelRequirement
        {
            Version = highest.Version.ToString(),
            Source = highest.Source,
            Files = highest.Source == "Binaries" ? builder.Status?.RequiredKernel?.Files : null,
        };
    }
}
