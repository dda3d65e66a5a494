using System.Collections.Immutable;
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
    /// <summary>
    /// The queue's order, in which the cache files a builder's runs: open runs first (the one under way, then one started,
    /// then the rest), oldest first within each, then the finished and deleting ones. The holder is the first open run.
    /// </summary>
    public static IComparer<BuildRun> Order { get; } = Comparer<BuildRun>.Create((a, b) =>
        IsOpen(a) != IsOpen(b) ? (IsOpen(a) ? -1 : 1) : Compare(a, b));

    public static BuildRun? Holder(IReadOnlyList<BuildRun> runsOfBuilder) => Pick(runsOfBuilder, standIn: null);

    /// <summary>
    /// Whether <paramref name="before"/>, as it was before a change, held the builder or was first in line for it: only
    /// then can its change (an end, a deletion) let another run go on. The others' changes wake nobody.
    /// </summary>
    public static bool Held(BuildRun before, IReadOnlyList<BuildRun> runsOfBuilder) =>
        !(before.Status?.Phase).IsFinished() && Pick(runsOfBuilder, standIn: before) == before;

    private static bool IsOpen(BuildRun run) => run.Metadata.DeletionTimestamp is null && !(run.Status?.Phase).IsFinished();

    /// <summary>
    /// The first of the open runs (and the stand-in, which takes the place of the run of its name whatever its state).
    /// The cache gives a builder's runs in <see cref="Order"/>, where the first other run decides: the controllers ask this
    /// on every change of a run, with a thousand runs queued. Any other list is gone through once.
    /// </summary>
    private static BuildRun? Pick(IReadOnlyList<BuildRun> runsOfBuilder, BuildRun? standIn)
    {
        var inOrder = runsOfBuilder is ImmutableSortedSet<BuildRun> sorted && sorted.KeyComparer == Order;
        var first = standIn;
        foreach (var run in runsOfBuilder)
        {
            if (standIn is not null && run.Metadata.Name == standIn.Metadata.Name)
            {
                continue;
            }

            if (IsOpen(run) && (first is null || Compare(run, first) < 0))
            {
                first = run;
            }

            if (inOrder)
            {
                break;
            }
        }

        return first;
    }

    // The one under way, then one started (an attempt behind it), then the rest; oldest first, then by name.
    private static int Compare(BuildRun a, BuildRun b)
    {
        var byStage = Stage(a).CompareTo(Stage(b));
        if (byStage != 0)
        {
            return byStage;
        }

        var byTime = DateTime.Compare(a.Metadata.CreationTimestamp ?? DateTime.MaxValue, b.Metadata.CreationTimestamp ?? DateTime.MaxValue);
        return byTime != 0 ? byTime : string.CompareOrdinal(a.Metadata.Name, b.Metadata.Name);
    }

    private static int Stage(BuildRun run) => (run.Status?.AttemptCount ?? 0) == 0 ? 2 : run.Status!.Phase is BuildRunPhase.Pending or BuildRunPhase.Running ? 0 : 1;

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
