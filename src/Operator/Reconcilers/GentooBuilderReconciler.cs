using System.Runtime.ExceptionServices;
using Gentoo.Protocol;
using Gentoo.Entities.V1Alpha1;
using Gentoo.Operator.Decisions;
using Gentoo.Operator.Desired;
using Gentoo.Runtime;
using Gentoo.Operator.Storage;
using Gentoo.Portage.Kernels;
using k8s;
using k8s.Autorest;
using k8s.Models;
using Microsoft.Extensions.Logging;

namespace Gentoo.Operator.Reconcilers;

/// <summary>
/// Keeps a builder's build tree: the root volume restored from its bootstrap's snapshot (or copied from the
/// bootstrap's volume, or restored from restoreFrom), the binary package and source archive volumes, and the Portage
/// configuration. It runs update and sync pods when asked, when the configuration changes and on the sync interval,
/// never during a build; schedules BuildRuns from autoBuild like a CronJob; and snapshots the root after successful
/// builds, keeping the newest ones it made.
/// </summary>
public sealed class GentooBuilderReconciler(
    IKubernetes kube,
    ICache<GentooBuilder> builders,
    ICache<GentooBootstrap> bootstraps,
    ICache<BuildRun> runs,
    ICache<V1Pod> pods,
    ICache<V1PersistentVolumeClaim> claims,
    ICache<V1Node> nodes,
    LifecycleSettings settings,
    EventRecorder events,
    TimeProvider clock,
    ILogger<GentooBuilderReconciler> log) : IReconciler<GentooBuilder>
{
    private readonly StatusWriter<GentooBuilder, GentooBuilderSpec, GentooBuilderStatus> status = new(new ResourceApi<GentooBuilder>(kube));
    private readonly ResourceApi<VolumeSnapshot> snapshots = new(kube);
    private readonly ResourceApi<BuildRun> runApi = new(kube);
    private readonly BuilderMaintenance maintenance = new(kube, pods, nodes, settings.Pods, settings.ProgressInterval, events, log);
    private readonly BuilderSchedule schedule = new(kube, events);
    private readonly BuilderSnapshots snapshotting = new(kube, claims, events, log, settings.SnapshotPoll);
    private readonly BuilderBinhost binhost = new(kube, settings.Pods, log);
    private readonly BuilderSigningKey signingKey = new(kube, events, clock);

    public async Task<ReconcileResult> ReconcileAsync(ReconcileRequest request, CancellationToken ct)
    {
        if (builders.Get(request.Key) is not { } builder || builder.Metadata.DeletionTimestamp is not null)
        {
            // Root and distfiles go with the builder (owner references); binpkgs under Retain and every snapshot stay.
            return ReconcileResult.Done;
        }

        // The steps below decide status changes; they are written once, here, whichever step ends the reconcile (a
        // maintenance pod's claim on the volumes is the one write that cannot wait: it takes them along, see BuilderMaintenance).
        var changes = status.Changes(builder);
        var deferred = new List<ExceptionDispatchInfo>();
        ReconcileResult result;
        try
        {
            result = await ReconcileBuilderAsync(request, builder, changes, deferred, ct);
        }
        catch (OwnershipConflictException e)
        {
            NotReady(changes, Reasons.NameConflict, e.Message, clock.GetUtcNow().UtcDateTime, stalled: true);
            result = ReconcileResult.After(settings.SnapshotPoll);
        }

        // Decided last, whichever step ended the reconcile: a schedule that cannot work is said at once, not only once the
        // build tree is ready, and the word goes when the spec is mended.
        var specProblem = AutoBuilds.Problem(builder);
        changes.Add(b => b.Status.Conditions = specProblem is not null
            ? Conditions.MarkTrue(b.Status.Conditions, ConditionTypes.Stalled, Reasons.InvalidSpec, specProblem, b.Metadata.Generation, clock.GetUtcNow().UtcDateTime)
            : Conditions.Find(b.Status.Conditions, ConditionTypes.Stalled)?.Reason == Reasons.InvalidSpec ? Conditions.Remove(b.Status.Conditions, ConditionTypes.Stalled) : b.Status.Conditions);
        await status.WriteAsync(changes, ct);
        // What failed without stopping the rest is raised now that the status holds the rest: the builder backs off and tries again.
        deferred.FirstOrDefault()?.Throw();
        return result;
    }

    private async Task<ReconcileResult> ReconcileBuilderAsync(
        ReconcileRequest request, GentooBuilder builder, StatusChanges<GentooBuilder> changes, List<ExceptionDispatchInfo> deferred, CancellationToken ct)
    {
        var now = clock.GetUtcNow().UtcDateTime;
        var bootstrap = builder.Spec.BootstrapRef is { } reference ? bootstraps.Get(new ObjectKey(request.Namespace, reference.Name)) : null;

        // The build tree: volumes, then (where the root is copied) the copy.
        var populated = builder.Status.Volumes?.Root is not null;
        if (!populated)
        {
            var (source, reason, message) = await RootSourceAsync(builder, bootstrap, ct);
            if (source is null)
            {
                NotReady(changes, reason, message, now);
                return builder.Spec.RestoreFrom is not null ? ReconcileResult.After(settings.SnapshotPoll) : ReconcileResult.Done;
            }

            if (await EnsureVolumesAsync(builder, source, ct) is { } volumeProblem)
            {
                // Another object's claim is not watched: look again now and then, in case a person moved it away.
                NotReady(changes, volumeProblem.Reason, volumeProblem.Message, now, volumeProblem.Stalled);
                return ReconcileResult.After(settings.SnapshotPoll);
            }

            if (source.Kind == "PersistentVolumeClaim" && await CopyRootAsync(builder, source.Name, changes, now, ct) is { } waiting)
            {
                return waiting;
            }
        }
        else if (await EnsureVolumesAsync(builder, null, ct) is { } volumeProblem)
        {
            NotReady(changes, volumeProblem.Reason, volumeProblem.Message, now, volumeProblem.Stalled);
            return ReconcileResult.After(settings.SnapshotPoll);
        }

        var config = await ConfigAsync(builder, bootstrap, ct);
        if (config.Problem is { } problem)
        {
            NotReady(changes, PortageConfigSources.ConfigNotFound, problem, now);
            return ReconcileResult.After(settings.ConfigPoll);
        }

        await CoreWrites.ApplyConfigMapAsync(kube, DesiredConfig.ConfigMap(builder, DesiredBuilderPods.ConfigMapName(builder.Name()), config.Data), builder, ct);
        var signing = await signingKey.EnsureAsync(builder, ct);
        if (signing.Reason is { } signingProblem)
        {
            NotReady(changes, signingProblem, signing.Message!, now);
            return ReconcileResult.After(settings.SigningKeyPoll);
        }

        var ofBuilder = runs.List(request.Namespace).Where(r => r.Spec.BuilderRef.Name == builder.Name()).ToList();
        var holder = BuilderQueue.Holder(ofBuilder);
        var lastSuccess = ofBuilder.Where(r => r.Status?.Phase == BuildRunPhase.Succeeded).MaxBy(r => r.Status.CompletionTime ?? DateTime.MinValue);
        var previousSuccess = builder.Status.LastSuccessfulBuildRun;
        // A claim whose run the cache does not show is looked up: a run created a moment ago may claim the volumes before
        // the cache has it, and clearing its claim would let a maintenance pod beside its build.
        var claimant = builder.Status.CurrentBuildRun;
        var claimantRun = claimant is null ? null : ofBuilder.FirstOrDefault(r => r.Name() == claimant) ?? await runApi.GetAsync(request.Namespace, claimant, ct);
        var leftoverClaim = BuilderQueue.IsLeftoverClaim(claimant, claimantRun);
        changes.Add(b =>
        {
            b.Status.Volumes = new BuilderVolumes
            {
                Root = DesiredVolumes.RootName(b.Name()),
                Binpkgs = DesiredVolumes.BinpkgsName(b.Name()),
                Distfiles = DesiredVolumes.DistfilesName(b.Name()),
            };
            b.Status.ObservedGeneration = b.Metadata.Generation;
            b.Status.ConfigDigest ??= config.Digest; // the first configuration is the bootstrap's: nothing to update for
            // Runs claim the volumes for their pods themselves (compare-and-swap on this status); only the leftover judged
            // above goes here, and only while it is still the claim (on a fresh read another run may hold them).
            b.Status.CurrentBuildRun = leftoverClaim && b.Status.CurrentBuildRun == claimant ? null : b.Status.CurrentBuildRun;
            b.Status.LastSuccessfulBuildRun = lastSuccess?.Name() ?? b.Status.LastSuccessfulBuildRun;
            b.Status.RequiredKernel = BuiltKernel(bootstrap, ofBuilder) ?? b.Status.RequiredKernel;
            b.Status.Phase = b.Status.CurrentMaintenance is not null ? b.Status.Phase : b.Status.CurrentBuildRun is not null ? BuilderPhase.Building : BuilderPhase.Ready;
            b.Status.Failure = null;
            b.Status.SigningKeyFingerprint = signing.Fingerprint;
            b.Status.SigningKeyExpires = signing.Expires?.UtcDateTime;
            var how = builder.Spec.RestoreFrom is { } from ? $"root restored from VolumeSnapshot {from.Name}"
                : bootstrap?.Status.Snapshot is { } snapshot ? $"root made from {snapshot.Method} {snapshot.Name} of GentooBootstrap {bootstrap.Name()}"
                : "volumes ready";
            b.Status.Conditions = Conditions.Remove(b.Status.Conditions, ConditionTypes.Reconciling);
            b.Status.Conditions = Conditions.Remove(b.Status.Conditions, ConditionTypes.Stalled);
            b.Status.Conditions = Conditions.MarkTrue(b.Status.Conditions, ConditionTypes.Ready, Reasons.Succeeded,
                Conditions.IsTrue(b.Status.Conditions, ConditionTypes.Ready) ? Conditions.Find(b.Status.Conditions, ConditionTypes.Ready)!.Message : how, b.Metadata.Generation, now);
        });

        // The parts below decide on the builder as it will be stored; maintenance goes last, since its claim is written at once.
        builder = changes.Preview();
        try
        {
            await binhost.RunAsync(builder, ofBuilder, claims.Get(new ObjectKey(request.Namespace, DesiredVolumes.BinpkgsName(builder.Name()))), changes, ct);
        }
        catch (HttpOperationException e) when (!ct.IsCancellationRequested)
        {
            // Builds do not need the binhost: one the API server will not make (a quota on Services, an error) must not keep
            // the builder from being Ready, nor its runs from building.
            deferred.Add(ExceptionDispatchInfo.Capture(e));
        }

        var next = new List<TimeSpan?>
        {
            await schedule.RunAsync(builder, ofBuilder, holder, changes, now, ct),
            await snapshotting.RunAsync(builder, lastSuccess is not null && lastSuccess.Name() != previousSuccess ? lastSuccess : null, changes, now, ct),
            await maintenance.RunAsync(builder, bootstrap, holder, config.Digest, changes, now, ct),
            signing.Recheck,
        };
        return next.Where(t => t is not null).Select(t => t!.Value).DefaultIfEmpty(TimeSpan.Zero).Min() is var soonest && soonest > TimeSpan.Zero
            ? ReconcileResult.After(soonest)
            : ReconcileResult.Done;
    }

    /// <summary>Where the root comes from, or why it cannot be made yet (reason and message for the Ready condition).</summary>
    private async Task<(RootSource? Source, string Reason, string Message)> RootSourceAsync(GentooBuilder builder, GentooBootstrap? bootstrap, CancellationToken ct)
    {
        if (builder.Spec.RestoreFrom is { } from)
        {
            var snapshot = await snapshots.GetAsync(builder.Namespace(), from.Name, ct);
            return snapshot?.Status?.ReadyToUse == true
                ? (RootSource.Snapshot(from.Name), "", "")
                : (null, Reasons.SnapshotNotReady, snapshot is null ? $"VolumeSnapshot {from.Name} (spec.restoreFrom) does not exist" : $"VolumeSnapshot {from.Name} is not ready to use yet");
        }

        var name = builder.Spec.BootstrapRef!.Name;
        if (bootstrap is null)
        {
            return (null, Reasons.BootstrapNotFound, $"GentooBootstrap {name} (spec.bootstrapRef) does not exist in {builder.Namespace()}");
        }

        if (bootstrap.Status.Snapshot is not { ReadyToUse: true, Name: { } snapshotName } snapshotStatus)
        {
            var why = Conditions.Find(bootstrap.Status.Conditions, ConditionTypes.Ready)?.Message ?? "not started yet";
            return (null, Reasons.BootstrapNotReady, $"waiting for GentooBootstrap {name}: {why}");
        }

        return (snapshotStatus.Method == "VolumeSnapshot" ? RootSource.Snapshot(snapshotName) : RootSource.CopyOf(snapshotName), "", "");
    }

    /// <summary>
    /// Creates the volumes that are missing (the root only once its source is known); null when every one is there and
    /// this builder's, else why not: another object's claim under one of the names, or one still being deleted.
    /// </summary>
    private async Task<ClaimProblem?> EnsureVolumesAsync(GentooBuilder builder, RootSource? source, CancellationToken ct)
    {
        var podsHere = pods.List(builder.Namespace());
        foreach (var claim in DesiredVolumes.Builder(builder, source ?? RootSource.CopyOf("")))
        {
            var isRoot = claim.Metadata.Name == DesiredVolumes.RootName(builder.Name());
            var existing = claims.Get(ObjectKey.Of(claim));
            if (existing is null && (source is not null || !isRoot))
            {
                // The cache holds only the operator's own claims: a claim somebody else made under the name shows here.
                existing = await CoreWrites.CreateOrReadAsync(kube, claim, ct);
            }

            if (existing is not null && ClaimChecks.Check(existing, claim, builder, podsHere) is { } problem)
            {
                return problem;
            }
        }

        return null;
    }

    /// <summary>Runs the copy pod until it succeeded; null once the root is filled, else when to look again.</summary>
    private async Task<ReconcileResult?> CopyRootAsync(
        GentooBuilder builder, string sourceClaim, StatusChanges<GentooBuilder> changes, DateTime now, CancellationToken ct)
    {
        var name = DesiredBuilderPods.CopyPodName(builder.Name());
        if (pods.Get(new ObjectKey(builder.Namespace(), name)) is not { } pod)
        {
            await CoreWrites.CreateIfMissingAsync(kube, DesiredBuilderPods.CopyRoot(builder, sourceClaim, settings.Pods.OperatorImage), ct);
            NotReady(changes, "CopyingRoot", $"copying the root from PersistentVolumeClaim {sourceClaim} (pod {name})", now);
            return ReconcileResult.Done;
        }

        switch (pod.Status?.Phase)
        {
            case PodPhases.Succeeded:
                await events.RecordAsync(builder, "Normal", "RootCopied", $"root copied from PersistentVolumeClaim {sourceClaim}", ct);
                return null;
            case PodPhases.Failed:
                var terminated = pod.Status.ContainerStatuses?.FirstOrDefault()?.State?.Terminated;
                var message = $"copying the root from {sourceClaim} failed (exit {terminated?.ExitCode}): {terminated?.Message ?? "see kubectl logs " + name}; delete pod {name} to try again";
                NotReady(changes, "CopyFailed", message, now, stalled: true);
                return ReconcileResult.Done;
            default:
                NotReady(changes, "CopyingRoot", $"copying the root from PersistentVolumeClaim {sourceClaim} (pod {name})", now);
                return ReconcileResult.Done;
        }
    }

    private sealed record BuilderConfig(Dictionary<string, string> Data, string Digest, string? Problem);

    /// <summary>The builder's Portage configuration: its bootstrap's (inline, repositories, configFrom, profile).</summary>
    private async Task<BuilderConfig> ConfigAsync(GentooBuilder builder, GentooBootstrap? bootstrap, CancellationToken ct)
    {
        var data = new Dictionary<string, string>(StringComparer.Ordinal);
        if (bootstrap is not null)
        {
            var sources = await PortageConfigSources.ReadAsync(kube, builder.Namespace(), bootstrap.Spec.ConfigFrom, ct);
            if (sources.Problem is { } problem)
            {
                return new BuilderConfig(data, "", $"GentooBootstrap {bootstrap.Name()} {problem}");
            }

            data = DesiredBootstrap.Config(bootstrap, sources.ConfigMaps);
        }

        // Git sources count by what they name: a new ref or path is a configuration change too.
        var git = DesiredGitConfig.Sources(bootstrap?.Spec.ConfigFrom).Select(g => $"git\0{g.Url}\0{g.Ref}\0{g.Path}\0");
        var text = string.Concat(data.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => p.Key + "\0" + p.Value + "\0").Concat(git));
        return new BuilderConfig(data, Digest.Of(text, 16), null);
    }

    /// <summary>The highest kernel the bootstrap's and the builds' binaries need (with kernelFromBinaries).</summary>
    private static KernelRequirement? BuiltKernel(GentooBootstrap? bootstrap, IEnumerable<BuildRun> ofBuilder)
    {
        KernelRequirement? highest = null;
        KernelVersion? highestVersion = null;
        foreach (var requirement in ofBuilder.Select(r => r.Status?.RequiredKernel).Where(k => k?.Source == "Binaries").Append(bootstrap?.Status.RequiredKernel))
        {
            if (KernelVersion.TryParse(requirement?.Version, out var version) && (highestVersion is not { } best || version.CompareTo(best) > 0))
            {
                (highest, highestVersion) = (requirement, version);
            }
        }

        return highest is null ? null : new KernelRequirement { Version = highestVersion.ToString(), Source = "Binaries", Files = highest.Files };
    }

    private static void NotReady(StatusChanges<GentooBuilder> changes, string reason, string message, DateTime now, bool stalled = false) =>
        changes.Add(b =>
        {
            b.Status.Phase = BuilderPhase.Pending;
            b.Status.ObservedGeneration = b.Metadata.Generation;
            b.Status.Conditions = stalled
                ? Conditions.MarkFalse(
                    Conditions.MarkTrue(Conditions.Remove(b.Status.Conditions, ConditionTypes.Reconciling), ConditionTypes.Stalled, reason, message, b.Metadata.Generation, now),
                    ConditionTypes.Ready, reason, message, b.Metadata.Generation, now)
                : Conditions.MarkProgressing(Conditions.Remove(b.Status.Conditions, ConditionTypes.Stalled), reason, message, b.Metadata.Generation, now);
        });
}
