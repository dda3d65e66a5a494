using Gentoo.Entities.V1Alpha1;
using Gentoo.Operator.Desired;
using Gentoo.Operator.Storage;
using Gentoo.Runtime;
using k8s;
using k8s.Models;

namespace Gentoo.Operator.Tests.Faults;

/// <summary>What the fault suite counts; <see cref="Details"/> names each breach.</summary>
public sealed record FaultFigures(int DuplicatePods, int Regressions, int LostAttempts, int VolumesDeleted, int SnapshotsTaken, int SnapshotsDeleted, IReadOnlyList<string> Details);

/// <summary>
/// Looks at the cluster directly (never through the fault proxy) every 100 ms and remembers what it saw: each pod's
/// UID by name (a second UID under one name is a second pod for one attempt), each run's status (a finished run that
/// changes phase, an attempt count that goes down, an attempt that disappears or changes its pod, a start time that
/// moves: regressions), the builder's volumes (one that goes or is replaced was deleted unasked), and the snapshots
/// (one that goes while fewer than <paramref name="keepSnapshots"/> newer ones of the builder are there was not pruned
/// as spec.snapshots.keep asks, and the bootstrap's must never go).
/// </summary>
public sealed class LifecycleMonitor(IKubernetes kube, string ns, string builder, int keepSnapshots)
{
    private readonly Dictionary<string, VolumeSnapshot> snapshots = new(StringComparer.Ordinal);
    private readonly HashSet<string> snapshotsSeenTotal = new(StringComparer.Ordinal);
    private int snapshotsDeleted;

    private readonly Dictionary<string, string> podUids = new(StringComparer.Ordinal);
    private readonly Dictionary<string, BuildRunStatus> lastStatus = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> volumeUids = new(StringComparer.Ordinal);
    private readonly List<string> details = [];
    private int duplicatePods;
    private int regressions;
    private int volumesDeleted;

    private IEnumerable<string> Volumes => [DesiredVolumes.RootName(builder), DesiredVolumes.BinpkgsName(builder), DesiredVolumes.DistfilesName(builder)];

    public async Task RunAsync(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            await LookAsync();
            try
            {
                await Task.Delay(TimeSpan.FromMilliseconds(100), ct);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }

        await LookAsync();
    }

    private async Task LookAsync()
    {
        var pods = (await kube.CoreV1.ListNamespacedPodAsync(ns)).Items;
        foreach (var pod in pods)
        {
            if (podUids.TryGetValue(pod.Name(), out var uid) && uid != pod.Uid() && pod.Metadata.Labels?.ContainsKey(DesiredBuilderPods.MaintenanceLabel) != true)
            {
                duplicatePods++;
                details.Add($"pod {pod.Name()} was made twice");
            }

            podUids[pod.Name()] = pod.Uid();
        }

        foreach (var run in (await new ResourceApi<BuildRun>(kube).ListAsync(ns, CancellationToken.None)).Items)
        {
            if (run.Status is not { } status)
            {
                continue;
            }

            if (lastStatus.TryGetValue(run.Name(), out var before))
            {
                Compare(run.Name(), before, status);
            }

            lastStatus[run.Name()] = status;
        }

        await LookAtSnapshotsAsync();
        var claims = (await kube.CoreV1.ListNamespacedPersistentVolumeClaimAsync(ns)).Items.ToDictionary(c => c.Name(), c => c.Uid(), StringComparer.Ordinal);
        foreach (var volume in Volumes)
        {
            if (volumeUids.TryGetValue(volume, out var uid) && claims.GetValueOrDefault(volume) != uid)
            {
                volumesDeleted++;
                details.Add($"volume {volume} was deleted{(claims.ContainsKey(volume) ? " and made again" : "")}");
                volumeUids.Remove(volume);
            }

            if (claims.TryGetValue(volume, out var now))
            {
                volumeUids[volume] = now;
            }
        }
    }

    private async Task LookAtSnapshotsAsync()
    {
        var present = (await new ResourceApi<VolumeSnapshot>(kube).ListAsync(ns, CancellationToken.None)).Items.ToDictionary(s => s.Name(), StringComparer.Ordinal);
        foreach (var (name, seen) in snapshots.Where(s => !present.TryGetValue(s.Key, out var now) || now.Uid() != s.Value.Uid()).ToList())
        {
            snapshots.Remove(name);
            var newer = present.Values.Count(s => OfBuilder(s) && Newer(s, seen));
            if (!OfBuilder(seen) || newer < keepSnapshots)
            {
                snapshotsDeleted++;
                details.Add($"snapshot {name} was deleted with {newer} newer of the builder's there (keep {keepSnapshots})");
            }
        }

        foreach (var (name, snapshot) in present)
        {
            snapshots[name] = snapshot;
            snapshotsSeenTotal.Add(snapshot.Uid());
        }
    }

    private bool OfBuilder(VolumeSnapshot snapshot) => snapshot.Metadata.Labels?.TryGetValue(ObjectLabels.Builder, out var of) == true && of == builder;

    /// <summary>The operator's order for pruning: creation time, then name.</summary>
    private static bool Newer(VolumeSnapshot a, VolumeSnapshot b) =>
        a.Metadata.CreationTimestamp > b.Metadata.CreationTimestamp
        || (a.Metadata.CreationTimestamp == b.Metadata.CreationTimestamp && string.CompareOrdinal(a.Name(), b.Name()) > 0);


    private void Compare(string run, BuildRunStatus before, BuildRunStatus after)
    {
        void Regressed(string what)
        {
            regressions++;
            details.Add($"BuildRun {run}: {what}");
        }

        if (before.Phase is BuildRunPhase.Succeeded or BuildRunPhase.Failed && after.Phase != before.Phase)
        {
            Regressed($"phase {before.Phase} became {after.Phase}");
        }

        if ((after.AttemptCount ?? 0) < (before.AttemptCount ?? 0))
        {
            Regressed($"attempt count {before.AttemptCount} became {after.AttemptCount}");
        }

        foreach (var attempt in before.Attempts ?? [])
        {
            if ((after.Attempts ?? []).FirstOrDefault(a => a.Number == attempt.Number) is not { } still)
            {
                Regressed($"attempt {attempt.Number} disappeared");
            }
            else if (still.Pod != attempt.Pod)
            {
                Regressed($"attempt {attempt.Number} changed its pod from {attempt.Pod} to {still.Pod}");
            }
        }

        if (before.StartTime is { } started && after.StartTime != started)
        {
            Regressed($"start time {started:O} became {after.StartTime:O}");
        }
    }

    /// <summary>The figures, once the cluster has converged: a build pod whose attempt no run records is a lost attempt.</summary>
    public async Task<FaultFigures> FiguresAsync()
    {
        var lost = 0;
        var runs = (await new ResourceApi<BuildRun>(kube).ListAsync(ns, CancellationToken.None)).Items;
        foreach (var run in runs)
        {
            var recorded = (run.Status?.Attempts ?? []).Select(a => a.Pod).ToHashSet(StringComparer.Ordinal);
            for (var attempt = 1; attempt <= 64; attempt++)
            {
                var pod = DesiredBuildPod.PodName(run.Name(), attempt);
                if (podUids.ContainsKey(pod) && !recorded.Contains(pod))
                {
                    lost++;
                    details.Add($"BuildRun {run.Name()}: pod {pod} ran but attempt {attempt} is not in its status");
                }
            }
        }

        return new FaultFigures(duplicatePods, regressions, lost, volumesDeleted, snapshotsSeenTotal.Count, snapshotsDeleted, details);
    }
}
