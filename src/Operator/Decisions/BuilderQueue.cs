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
    public static BuildRun? Holder(IReadOnlyList<BuildRun> runsOfBuilder) => Pick(runsOfBuilder, standIn: null);

    /// <summary>
    /// Whether <paramref name="before"/>, as it was before a change, held the builder or was first in line for it: only
    /// then can its change (an end, a deletion) let another run go on. The others' changes wake nobody.
    /// </summary>
    public static bool Held(BuildRun before, IReadOnlyList<BuildRun> runsOfBuilder) =>
        !(before.Status?.Phase).IsFinished() && Pick(runsOfBuilder, standIn: before) == before;

    private static bool IsOpen(BuildRun run) => run.Metadata.DeletionTimestamp is null && !(run.Status?.Phase).IsFinished();

    // One pass over the list, no sort, no copy: the controllers ask this on every change of a run, with a thousand runs
    // queued. A stand-in takes the place of the run of its name, whatever its state.
    private static BuildRun? Pick(IReadOnlyList<BuildRun> runsOfBuilder, BuildRun? standIn)
    {
        BuildRun? underWay = null, started = null, oldest = null;
        if (standIn is not null)
        {
            Consider(standIn);
        }

        for (var i = 0; i < runsOfBuilder.Count; i++)
        {
            var run = runsOfBuilder[i];
            if (IsOpen(run) && (standIn is null || run.Metadata.Name != standIn.Metadata.Name))
            {
                Consider(run);
            }
        }

        return underWay ?? started ?? oldest;

        void Consider(BuildRun run)
        {
            oldest = Older(run, oldest);
            if ((run.Status?.AttemptCount ?? 0) > 0)
            {
                started = Older(run, started);
                if (run.Status!.Phase is BuildRunPhase.Pending or BuildRunPhase.Running)
                {
                    underWay = Older(run, underWay);
                }
            }
        }
    }

    private static BuildRun Older(BuildRun run, BuildRun? than)
    {
        if (than is null)
        {
            return run;
        }

        var byTime = DateTime.Compare(run.Metadata.CreationTimestamp ?? DateTime.MaxValue, than.Metadata.CreationTimestamp ?? DateTime.MaxValue);
        return byTime < 0 || (byTime == 0 && string.CompareOrdinal(run.Metadata.Name, than.Metadata.Name) < 0) ? run : than;
    }

    /// <summary>
    /// Whether a claim on the builder's volumes is a leftover to clear: its run is gone or finished (a run releases its
    /// claim itself when its pod ends; this clears what a run deleted or finished left behind). <paramref name="claimant"/>
    /// must be read fresh when a cache does not show it: a run created a moment ago may claim before a cache has it.
    /// </summary>
    public static bool IsLeftoverClaim(string? claimedBy, BuildRun? claimant) =>
        claimedBy is not null && (claimant is null || (claimant.Status?.Phase).IsFinished());

    /// <summary>
    /// Why <paramref name="run"/> waits, or null when it holds the builder. The words do not name the run ahead: a queued
    /// run is not reconciled again each time the queue moves (only the next in line is), so a name would soon be stale;
    /// the builder's status.currentBuildRun names it.
    /// </summary>
    public static string? WaitingFor(BuildRun run, BuildRun? holder) =>
        holder is null || holder.Metadata.Name == run.Metadata.Name ? null
            : $"queued: GentooBuilder {run.Spec.BuilderRef.Name} builds one BuildRun at a time, oldest first";
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
