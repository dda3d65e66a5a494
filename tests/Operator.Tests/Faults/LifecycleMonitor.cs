using Gentoo.Entities.V1Alpha1;
using Gentoo.Operator.Desired;
using Gentoo.Operator.Storage;
using Gentoo.Protocol;
using Gentoo.Runtime;
using k8s;
using k8s.Models;

namespace Gentoo.Operator.Tests.Faults;

/// <summary>What the fault suite counts; <see cref="Details"/> names each breach.</summary>
public sealed record FaultFigures(
    int DuplicatePods, int PodsMadeAgain, int Regressions, int LostAttempts, int VolumesDeleted, int SnapshotsTaken, int SnapshotsDeleted, BinpkgsFigures Packages, IReadOnlyList<string> Details);

/// <summary>
/// The binpkgs volume as the suite's storage sees it: packages written by build attempts, those an attempt found there
/// of what earlier attempts had built (<see cref="Reused"/> of <see cref="BuiltBefore"/>), and those missing at the end.
/// </summary>
public sealed record BinpkgsFigures(int Built, int Reused, int BuiltBefore, int Lost);

/// <summary>
/// Looks at the cluster directly (never through the fault proxy) every 100 ms and remembers what it saw: each pod's
/// UID by name (a second UID under a name a run had recorded for an attempt is a second pod for one attempt), each run's status (a finished run that
/// changes phase, an attempt count that goes down, an attempt that disappears or changes its pod, a start time that
/// moves: regressions), the builder's volumes (one that goes or is replaced was deleted unasked), and the snapshots
/// (one that goes while fewer than <paramref name="keepSnapshots"/> newer ones of the builder are there was not pruned
/// as spec.snapshots.keep asks, and the bootstrap's must never go).
/// It also stands in for the storage under the builder's binpkgs claim, as the build pods' emerge fills it: a build pod
/// seen running writes the packages it builds first (the run's dependencies) to the claim it mounts at the agent's
/// binpkgs path and, seen succeeded, the packages the run asked for. Before that, each attempt looks there for every
/// package it needs that an earlier attempt built (emerge --usepkg re-uses them): one missing means a restarted or
/// resumed build would build it again, because its pod mounts another volume or the volume was replaced. A claim made
/// again is a new, empty volume, as a storage driver provisions it; a package built and not on the builder's claim at
/// the end is lost.
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
    private int podsMadeAgain;
    private int regressions;
    private int volumesDeleted;

    private readonly Dictionary<string, HashSet<string>> volumeContents = new(StringComparer.Ordinal);
    private readonly HashSet<string> everBuilt = new(StringComparer.Ordinal);
    private readonly HashSet<string> podsStarted = new(StringComparer.Ordinal);
    private readonly HashSet<string> podsFinished = new(StringComparer.Ordinal);
    private int packagesBuilt;
    private int packagesReused;
    private int packagesBuiltBefore;

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
        var claims = (await kube.CoreV1.ListNamespacedPersistentVolumeClaimAsync(ns)).Items.ToDictionary(c => c.Name(), c => c.Uid(), StringComparer.Ordinal);
        var pods = (await kube.CoreV1.ListNamespacedPodAsync(ns)).Items;
        // Ended pods first: a pod that started after another ended sees what the ended one wrote.
        foreach (var pod in pods.OrderBy(p => p.Status?.Phase is "Succeeded" or "Failed" ? 0 : 1))
        {
            Build(pod, claims);
        }

        foreach (var pod in pods)
        {
            if (podUids.TryGetValue(pod.Name(), out var uid) && uid != pod.Uid() && pod.Metadata.Labels?.ContainsKey(DesiredBuilderPods.MaintenanceLabel) != true)
            {
                // One name cannot hold two pods at once: the first was gone. Making it again is a breach when a run had
                // recorded the attempt with that pod (the operator forgot what it knew); when none had, the operator was
                // killed between making the pod and recording it, and the pod was deleted before it came back.
                if (lastStatus.Values.Any(s => s.Attempts?.Any(a => a.Pod == pod.Name()) == true))
                {
                    duplicatePods++;
                    details.Add($"pod {pod.Name()} was made twice");
                }
                else
                {
                    podsMadeAgain++;
                }
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

    /// <summary>What a build pod's emerge does to the binpkgs volume it mounts, as far as this look shows it.</summary>
    private void Build(V1Pod pod, IReadOnlyDictionary<string, string> claims)
    {
        if (pod.Metadata.Labels?.TryGetValue(DesiredBuildPod.BuildRunLabel, out var run) != true || run is null
            || pod.Status?.Phase is not ("Running" or "Succeeded" or "Failed"))
        {
            return;
        }

        var contents = VolumeOf(pod, claims);
        string[] dependencies = ["dev-libs/nss", $"app-misc/{run}-deps"];
        if (podsStarted.Add(pod.Uid()))
        {
            foreach (var needed in dependencies.Concat(AskedFor(pod)).Where(everBuilt.Contains))
            {
                packagesBuiltBefore++;
                if (contents.Contains(needed))
                {
                    packagesReused++;
                }
                else
                {
                    details.Add($"pod {pod.Name()} would build {needed} again: an earlier attempt built it, its binpkgs volume does not have it");
                }
            }

            Write(contents, dependencies);
        }

        if (pod.Status.Phase == "Succeeded" && podsFinished.Add(pod.Uid()))
        {
            Write(contents, AskedFor(pod));
        }
    }

    private void Write(HashSet<string> contents, IEnumerable<string> packages)
    {
        foreach (var package in packages)
        {
            if (contents.Add(package) && everBuilt.Add(package))
            {
                packagesBuilt++;
            }
        }
    }

    /// <summary>The contents of the claim the pod mounts at the agent's binpkgs path (an empty volume of its own when it mounts none).</summary>
    private HashSet<string> VolumeOf(V1Pod pod, IReadOnlyDictionary<string, string> claims)
    {
        var mount = pod.Spec.Containers.SelectMany(c => c.VolumeMounts ?? []).FirstOrDefault(m => m.MountPath == AgentPod.BinpkgsMount);
        var claim = pod.Spec.Volumes?.FirstOrDefault(v => v.Name == mount?.Name)?.PersistentVolumeClaim?.ClaimName;
        var key = claim is not null && claims.TryGetValue(claim, out var uid) ? uid : "none:" + pod.Uid();
        return Contents(key);
    }

    private HashSet<string> Contents(string volume)
    {
        if (!volumeContents.TryGetValue(volume, out var contents))
        {
            volumeContents[volume] = contents = new HashSet<string>(StringComparer.Ordinal);
        }

        return contents;
    }

    /// <summary>The packages the build step was asked for (--package), as the agent reads its arguments.</summary>
    private static IEnumerable<string> AskedFor(V1Pod pod)
    {
        var args = pod.Spec.Containers.SelectMany(c => c.Args ?? []).ToList();
        return args.Select((arg, i) => (arg, i)).Where(a => a.arg == "--package" && a.i + 1 < args.Count).Select(a => args[a.i + 1]);
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

        var claim = (await kube.CoreV1.ListNamespacedPersistentVolumeClaimAsync(ns)).Items.FirstOrDefault(c => c.Name() == DesiredVolumes.BinpkgsName(builder));
        var kept = claim is null ? [] : Contents(claim.Uid());
        var missing = everBuilt.Where(p => !kept.Contains(p)).Order(StringComparer.Ordinal).ToList();
        details.AddRange(missing.Select(p => $"package {p} was built and is not on the builder's binpkgs volume"));
        return new FaultFigures(duplicatePods, podsMadeAgain, regressions, lost, volumesDeleted, snapshotsSeenTotal.Count, snapshotsDeleted,
            new BinpkgsFigures(packagesBuilt, packagesReused, packagesBuiltBefore, missing.Count), details);
    }
}
