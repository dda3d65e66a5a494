using System.Net;
using Gentoo.Entities.V1Alpha1;
using Gentoo.Protocol;
using Gentoo.Operator.Decisions;
using Gentoo.Operator.Desired;
using Gentoo.Operator.Hosting;
using Gentoo.Runtime;
using Gentoo.Portage.Kernels;
using k8s;
using k8s.Autorest;
using k8s.Models;
using Microsoft.Extensions.Logging;

namespace Gentoo.Operator.Reconcilers;

/// <summary>
/// Runs BuildRuns on their builder, one at a time: waits for the builder, queues behind the run that holds it, starts
/// an attempt pod (deterministic name, kernel-aware placement), turns the pod's outcome into status, retries transient
/// failures with backoff under policy Retry, waits for a person otherwise and starts the next attempt on a new resume
/// token. Deleting a BuildRun stops its pod gracefully; everything built stays on the builder's volumes.
/// </summary>
public sealed class BuildRunReconciler(
    IKubernetes kube,
    ICache<BuildRun> runs,
    ICache<GentooBuilder> builders,
    ICache<GentooBootstrap> bootstraps,
    ICache<V1Pod> pods,
    ICache<V1Node> nodes,
    LifecycleSettings settings,
    EventRecorder events,
    TimeProvider clock,
    BuildMetrics metrics,
    ILogger<BuildRunReconciler> log) : IReconciler<BuildRun>
{
    public const string Finalizer = GroupVersion.Group + "/buildrun";

    private readonly ResourceApi<BuildRun> api = new(kube);
    private readonly ResourceApi<GentooBuilder> builderApi = new(kube);
    private readonly StatusWriter<GentooBuilder, GentooBuilderSpec, GentooBuilderStatus> builderStatus = new(new ResourceApi<GentooBuilder>(kube));
    private readonly StatusWriter<BuildRun, BuildRunSpec, BuildRunStatus> status = new(new ResourceApi<BuildRun>(kube));

    public async Task<ReconcileResult> ReconcileAsync(ReconcileRequest request, CancellationToken ct)
    {
        if (runs.Get(request.Key) is not { } run)
        {
            return ReconcileResult.Done;
        }

        if (run.Metadata.DeletionTimestamp is not null)
        {
            return await DeleteAsync(run, ct);
        }

        // The steps below decide status changes; they are written once, here, whichever step ends the reconcile.
        var changes = status.Changes(run);
        var result = await ReconcileRunAsync(run, changes, ct);
        var observed = changes.Observed;
        var stored = await status.WriteAsync(changes, ct);
        metrics.Observe(stored, observed.Status?.Phase);
        // A status write here is the reconcile's last: its echo through the watch need not wake the run again.
        return stored.Metadata.ResourceVersion != observed.Metadata.ResourceVersion ? result with { WroteStatusAt = stored.Metadata.ResourceVersion } : result;
    }

    private async Task<ReconcileResult> ReconcileRunAsync(BuildRun run, StatusChanges<BuildRun> changes, CancellationToken ct)
    {
        var ns = run.Namespace();
        var now = clock.GetUtcNow().UtcDateTime;
        var cachedBuilder = builders.Get(new ObjectKey(ns, run.Spec.BuilderRef.Name));
        if (cachedBuilder is null or { Metadata.DeletionTimestamp: not null })
        {
            await LetGoOfDeletedBuildersVolumesAsync(run, ct);
        }

        if (run.Status.Phase.IsFinished())
        {
            await ReleaseVolumesAsync(run, cachedBuilder, ct);
            return ReconcileResult.Done;
        }

        if (RequestTokens.Of(run, RequestAnnotations.Stop) is not null)
        {
            return await StopAsync(run, cachedBuilder, changes, now, ct);
        }

        if (cachedBuilder is not { } builder)
        {
            Wait(changes, Reasons.BuilderNotFound, $"GentooBuilder {run.Spec.BuilderRef.Name} does not exist in {ns}", now);
            return ReconcileResult.Done;
        }

        if (!Conditions.IsTrue(builder.Status?.Conditions, ConditionTypes.Ready))
        {
            Wait(changes, Reasons.Pending, $"waiting for GentooBuilder {builder.Name()} to be ready", now);
            return ReconcileResult.Done;
        }

        // Before the queue: a run shown Queued while its attempt is under way (a queue decided on a view that lagged
        // behind an older run, as earlier versions did) must see its pod's end judged; another attempt now would be a
        // second pod in one build tree.
        if (BuildRunStatuses.AttemptUnderWay(run))
        {
            return await JudgeAttemptAsync(run, builder, run.Status.AttemptCount!.Value, changes, now, ct);
        }

        var holder = BuilderQueue.Holder(runs.ByIndex(LifecycleCaches.RunsByBuilder, LifecycleCaches.BuilderKey(ns, builder.Name())));
        if (BuilderQueue.WaitingFor(run, holder) is { } waiting)
        {
            // A claim this run made when it looked first in line (a cache that did not show an older run's attempt yet)
            // would keep the run that is first now out for good, each waiting for the other: a run that waits gives the
            // volumes back, unless its pod still has them.
            if (builder.Status?.CurrentBuildRun == run.Name() && !await HasLivePodAsync(run, ct))
            {
                await ReleaseVolumesAsync(run, await builderApi.GetAsync(ns, builder.Name(), ct), ct);
            }

            changes.Add(r => Queue(r, waiting, now));
            return ReconcileResult.Done;
        }

        if (builder.Status?.CurrentMaintenance is { } maintenance && (run.Status.AttemptCount ?? 0) == 0)
        {
            Wait(changes, Reasons.Queued, $"waiting for GentooBuilder {builder.Name()}'s maintenance pod {maintenance} to finish", now);
            return ReconcileResult.Done;
        }

        var attempt = run.Status.AttemptCount ?? 0;
        var resume = RequestTokens.Of(run, RequestAnnotations.Resume);
        // Queued with attempts behind it: the next attempt was decided and waits for the builder's volumes.
        var decided = attempt > 0 && run.Status.Phase == BuildRunPhase.Queued;
        var resumed = resume is not null && resume != run.Status.LastHandledResume && (run.Status.Phase is BuildRunPhase.AwaitingOperator or BuildRunPhase.Stalled || decided);
        if (attempt == 0 || resumed || decided || run.Status.Phase == BuildRunPhase.Retrying)
        {
            if (run.Status.Phase == BuildRunPhase.Retrying && RetryDelay(run, now) is { } delay && delay > TimeSpan.Zero)
            {
                return ReconcileResult.After(delay);
            }

            IReadOnlyList<ProposedFix> accepted = [];
            if (resumed && RequestTokens.Of(run, RequestAnnotations.AcceptFixes) is { } accept)
            {
                if (!FixAcceptance.TrySelect(accept, run.Status.ProposedFixes, out accepted, out var error))
                {
                    changes.Add(r => r.Status.Conditions = Conditions.MarkTrue(r.Status.Conditions, ConditionTypes.AwaitingOperator,
                        Reasons.InvalidSpec, error!, r.Metadata.Generation, now));
                    await events.RecordAsync(run, "Warning", Reasons.InvalidSpec, error!, ct);
                    return ReconcileResult.Done;
                }
            }

            return await StartAttemptAsync(run, builder, attempt + 1, resumed ? resume : null, accepted, changes, now, ct);
        }

        if (run.Status.Phase is BuildRunPhase.AwaitingOperator or BuildRunPhase.Stalled)
        {
            await ReleaseVolumesAsync(run, builder, ct); // a person may look into the build tree now (kubectl gentoo shell)
            return ReconcileResult.Done;
        }

        return await JudgeAttemptAsync(run, builder, attempt, changes, now, ct);
    }

    /// <summary>Turns the current attempt's pod into status; when it has ended, frees the volumes or, under autounmask, starts the next attempt.</summary>
    private async Task<ReconcileResult> JudgeAttemptAsync(
        BuildRun run, GentooBuilder builder, int attempt, StatusChanges<BuildRun> changes, DateTime now, CancellationToken ct)
    {
        var podName = DesiredBuildPod.PodName(run.Name(), attempt);
        // A pod that vanished (deleted by a person, or its node lost) judges as an interrupted attempt.
        var pod = await AttemptPods.ReadOrGoneAsync(kube, pods, run.Namespace(), podName, ct);
        var verdict = BuildAttempts.Judge(pod, node => nodes.Get(new ObjectKey("", node)));
        var ended = verdict.Result is not (AttemptOutcome.Pending or AttemptOutcome.Running);
        if (ended && await api.GetAsync(run.Namespace(), run.Name(), ct) is { } stored)
        {
            // What follows an ended attempt (volumes let go, a next attempt, events) must not act on a view the status has
            // moved past, as a cache that has not seen this run's last write would show.
            if (IsPastAttempt(stored, attempt))
            {
                return ReconcileResult.After(settings.StaleViewRecheck);
            }

            run = stored;
            changes.Refresh(stored);
        }

        var placement = new AttemptPlacement(attempt, podName, pod.Spec?.NodeName, null, pod.Status?.StartTime);
        // A node that cannot be heard from has no log to give either: asking would wait out the API server's timeout.
        var progress = verdict is { Result: AttemptOutcome.Running, Reason: not Reasons.NodeUnreachable } ? await PodProgress.ReadAsync(kube, pod, log, ct) : null;
        if (verdict.Reason == Reasons.NodeUnreachable && Conditions.Find(run.Status.Conditions, ConditionTypes.Reconciling)?.Reason != Reasons.NodeUnreachable)
        {
            await events.RecordAsync(run, "Warning", Reasons.NodeUnreachable, $"attempt {attempt}: {verdict.Message}", ct);
            log.LogWarning("BuildRun {Namespace}/{Name} attempt {Attempt}: {Message}", run.Namespace(), run.Name(), attempt, verdict.Message);
        }

        (NextStep Next, IReadOnlyList<ProposedFix> Automatic) Judge(BuildRun r)
        {
            r.Status.Progress = progress ?? r.Status.Progress;
            if (IsPastAttempt(r, attempt))
            {
                return (NextStep.Wait, []);
            }

            var next = BuildRunStatuses.Apply(r, verdict, placement, now);
            IReadOnlyList<ProposedFix> automatic = next == NextStep.AwaitOperator && r.Status.Phase == BuildRunPhase.AwaitingOperator
                ? FixAcceptance.Automatic(builder.Spec.Autounmask ?? AutounmaskPolicy.Never, builder.Spec.KeywordScope ?? KeywordScope.Slot,
                    r.Status.ProposedFixes, r.Status.AppliedFixes)
                : [];
            if (automatic.Count > 0)
            {
                // autounmask answers in the person's place: the run never shows as waiting for one.
                r.Status.Phase = BuildRunPhase.Pending;
                r.Status.Conditions = Conditions.Remove(r.Status.Conditions, ConditionTypes.AwaitingOperator);
                r.Status.Conditions = Conditions.MarkTrue(r.Status.Conditions, ConditionTypes.Reconciling, "Autounmask",
                    $"{verdict.Reason}: writing the proposed change (autounmask {builder.Spec.Autounmask}) and building on", r.Metadata.Generation, now);
            }

            return (next, automatic);
        }

        // Decided on a copy of the run as read; the same change is written at the end of the reconcile.
        var judged = changes.Preview();
        var (next, automatic) = Judge(judged);
        changes.Add(r => Judge(r));
        if (ended && automatic.Count == 0)
        {
            // This attempt's pod has ended: the volumes are free for a maintenance pod until a next attempt claims them again
            // (autounmask's next attempt follows at once and keeps them).
            // The release the pod recorded on the volume goes into the builder's status in the same write.
            await ReleaseVolumesAsync(run, await builderApi.GetAsync(run.Namespace(), builder.Name(), ct), ct, verdict.Report?.Releases, now);
        }

        if (automatic.Count > 0)
        {
            var lines = string.Join("; ", automatic.SelectMany(FixAcceptance.Describe));
            await events.RecordAsync(run, "Normal", "Autounmask", $"attempt {attempt}: {verdict.Reason}; writing {lines} (autounmask {builder.Spec.Autounmask}) and building on", ct);
            return await StartAttemptAsync(judged, builder, attempt + 1, null, automatic, changes, now, ct);
        }

        if (next is NextStep.Done or NextStep.AwaitOperator)
        {
            var type = verdict.Result == AttemptOutcome.Succeeded ? "Normal" : "Warning";
            await events.RecordAsync(run, type, verdict.Reason, verdict.Message, ct);
            log.LogInformation("BuildRun {Namespace}/{Name} attempt {Attempt}: {Reason}: {Message}", run.Namespace(), run.Name(), attempt, verdict.Reason, verdict.Message);
        }

        if (next == NextStep.Retry && RetryDelay(judged, now) is { } wait)
        {
            return ReconcileResult.After(wait);
        }

        // Pod events say when the build ends, not how far it got: look at its progress lines now and then.
        return verdict.Result == AttemptOutcome.Running ? ReconcileResult.After(settings.ProgressInterval) : ReconcileResult.Done;
    }

    /// <summary>The run's status has moved past this attempt: a later one started, or the run ended or waits for a person.</summary>
    private static bool IsPastAttempt(BuildRun run, int attempt) =>
        run.Status.AttemptCount != attempt || run.Status.Phase.IsFinished() || run.Status.Phase is BuildRunPhase.AwaitingOperator or BuildRunPhase.Stalled;

    private async Task<ReconcileResult> StartAttemptAsync(
        BuildRun run, GentooBuilder builder, int attempt, string? resumeToken, IReadOnlyList<ProposedFix> fixes, StatusChanges<BuildRun> changes, DateTime now,
        CancellationToken ct)
    {
        // The finalizer comes with the first claim on the builder's volumes: from then on a deleted run has a pod to stop
        // and volumes to give back first. A run that only ever queued has neither, and goes at once when deleted; a
        // thousand queued runs cost a thousand writes and watch events less. Goes on with the stored object the patch
        // returned, onto which this reconcile's status changes are written (changes decided on the older read are written
        // onto a fresh one, as after any conflict).
        if (!Finalizers.Has(run, Finalizer))
        {
            run = await Finalizers.AddAsync(api, run, Finalizer, ct);
            if (changes.IsEmpty)
            {
                changes.Refresh(run);
            }
        }

        if (await ClaimVolumesAsync(run, builder.Name(), ct) is { } waiting)
        {
            changes.Add(r =>
            {
                Queue(r, waiting, now); // with attempts behind it: this next attempt is decided, see ReconcileRunAsync
                r.Status.Conditions = Conditions.Remove(r.Status.Conditions, ConditionTypes.AwaitingOperator); // answered, if it was
            });
            return ReconcileResult.After(settings.VolumeRecheck);
        }

        if (fixes.Count > 0)
        {
            // Written before the pod starts, so the agent finds them among its managed configuration.
            var name = DesiredBuilderPods.FixesConfigMapName(builder.Name());
            var existing = await CoreWrites.ReadConfigMapAsync(kube, run.Namespace(), name, ct);
            await CoreWrites.ApplyConfigMapAsync(kube, DesiredBuilderPods.FixesConfigMap(builder, FixAcceptance.Merge(existing?.Data, fixes)), builder, ct);
        }

        var bootstrap = builder.Spec.BootstrapRef is { } reference ? bootstraps.Get(new ObjectKey(run.Namespace(), reference.Name)) : null;
        var kernel = RequiredKernels.For(run, builder);
        var pod = DesiredBuildPod.Build(run, builder, attempt, KernelVersion.TryParse(kernel?.Version, out var k) ? k : null, settings.Pods, bootstrap?.Spec.ConfigFrom);
        // When the pod exists, an earlier reconcile created it: either it did not get to write status (an operator
        // restart), or it did and our cache is behind. The status write below settles both without going backwards.
        var created = await CoreWrites.CreateIfMissingAsync(kube, pod, ct);
        changes.Add(r =>
        {
            if ((r.Status.AttemptCount ?? 0) >= attempt)
            {
                return;
            }

            r.Status.AttemptCount = attempt;
            r.Status.WaitingFor = null;
            r.Status.RequiredKernel = kernel;
            r.Status.LastHandledResume = resumeToken ?? r.Status.LastHandledResume;
            if (fixes.Count > 0)
            {
                r.Status.AppliedFixes = [.. r.Status.AppliedFixes ?? [], .. fixes.SelectMany(FixAcceptance.Describe).Where(f => r.Status.AppliedFixes?.Contains(f) != true)];
            }

            r.Status.Conditions = Conditions.Remove(r.Status.Conditions, ConditionTypes.AwaitingOperator);
            BuildRunStatuses.Apply(r, new AttemptVerdict(AttemptOutcome.Pending, Reasons.Pending, $"attempt {attempt} starting", null, null),
                new AttemptPlacement(attempt, pod.Metadata.Name, null, null, now), now);
        });
        if (!created)
        {
            return ReconcileResult.After(settings.StaleViewRecheck);
        }

        log.LogInformation("BuildRun {Namespace}/{Name}: started attempt {Attempt} as pod {Pod}", run.Namespace(), run.Name(), attempt, pod.Metadata.Name);
        return ReconcileResult.Done;
    }

    private async Task<ReconcileResult> DeleteAsync(BuildRun run, CancellationToken ct)
    {
        var owned = pods.OwnedBy(run.Metadata.Uid);
        foreach (var pod in owned.Where(p => p.Metadata.DeletionTimestamp is null))
        {
            // Graceful: the agent forwards SIGTERM to emerge and the binary packages built so far stay.
            await CoreWrites.DeleteIfPresentAsync(() => kube.CoreV1.DeleteNamespacedPodAsync(pod.Name(), pod.Namespace(), cancellationToken: ct));
        }

        if (owned.Count > 0)
        {
            return ReconcileResult.After(settings.VolumeRecheck);
        }

        if (await builderApi.GetAsync(run.Namespace(), run.Spec.BuilderRef.Name, ct) is { } builder)
        {
            await ReleaseVolumesAsync(run, builder, ct);
        }

        await Finalizers.RemoveAsync(api, run, Finalizer, ct);
        return ReconcileResult.Done;
    }

    /// <summary>
    /// A deleted builder's root and source volumes go with it, but pvc-protection keeps a claim while any pod names it,
    /// a finished one too: this run's pods (which outlive the builder, as runs do) would pin them as Terminating for ever
    /// and a builder re-created under the name would wait for them. So they go, once the API server confirms the builder
    /// is gone; a running one is stopped gracefully, keeping what it built.
    /// </summary>
    private async Task LetGoOfDeletedBuildersVolumesAsync(BuildRun run, CancellationToken ct)
    {
        var owned = pods.OwnedBy(run.Metadata.Uid).Where(p => p.Metadata.DeletionTimestamp is null).ToList();
        if (owned.Count == 0 || await builderApi.GetAsync(run.Namespace(), run.Spec.BuilderRef.Name, ct) is { Metadata.DeletionTimestamp: null })
        {
            return;
        }

        foreach (var pod in owned)
        {
            await CoreWrites.DeleteIfPresentAsync(() => kube.CoreV1.DeleteNamespacedPodAsync(pod.Name(), pod.Namespace(), cancellationToken: ct));
            log.LogInformation("BuildRun {Namespace}/{Name}: deleted pod {Pod}, which kept the volumes of deleted GentooBuilder {Builder}", run.Namespace(), run.Name(), pod.Name(), run.Spec.BuilderRef.Name);
        }
    }

    /// <summary>
    /// Claims the builder's volumes for this run's next pod. The claim is a write of the builder's status that is made
    /// only while no maintenance pod (update, sync, a person's shell) and no other run holds them; maintenance pods are
    /// claimed the same way, and a conflicting write is retried on a fresh read, so of a build and a maintenance pod
    /// starting at the same instant exactly one gets the volumes. Returns why the run waits instead, or null.
    /// </summary>
    /// <remarks>
    /// Why the builder's status and not a coordination.k8s.io Lease: a Lease is a lock held by a live process that renews
    /// it, and ends when the holder stops renewing; here the holder is a pod whose end the API server reports, so there
    /// is nothing to renew and no expiry that could hand the volumes to a second pod while the first still writes to them.
    /// The resourceVersion compare-and-swap of the status write is the same mutual exclusion a Lease update gives, the
    /// holder shows where a person looks (status.currentBuildRun and currentMaintenance in kubectl get), and both
    /// controllers read it from the builder cache they already have instead of watching Leases in every namespace. And
    /// a Lease per builder would need the right to update Leases wherever builders live, which for an operator watching
    /// all namespaces includes the control plane's own leader-election Leases in kube-system; the operator's RBAC grants
    /// Leases in its own namespace only, for its own leader election.
    /// The cost: two controllers write these two fields of the builder's status (this one only them, through one writer).
    /// </remarks>
    private async Task<string?> ClaimVolumesAsync(BuildRun run, string builderName, CancellationToken ct)
    {
        // Read fresh, not from the cache: a stale view still showing this run's earlier claim would write nothing, and an
        // unwritten claim is no compare-and-swap.
        var builder = await builderApi.GetAsync(run.Namespace(), builderName, ct);
        if (builder is null)
        {
            return $"GentooBuilder {builderName} does not exist in {run.Namespace()}";
        }

        var stored = await builderStatus.UpdateAsync(builder, b =>
        {
            if (b.Status.CurrentMaintenance is null && (b.Status.CurrentBuildRun is null || b.Status.CurrentBuildRun == run.Name()))
            {
                b.Status.CurrentBuildRun = run.Name();
            }
        }, ct);
        var holder = stored.Status.CurrentBuildRun == run.Name() ? null
            : stored.Status.CurrentMaintenance is { } maintenance ? $"maintenance pod {maintenance}"
            : $"BuildRun {stored.Status.CurrentBuildRun}";
        return holder is null ? null : $"{holder} is using GentooBuilder {builderName}'s volumes";
    }

    /// <summary>
    /// Whether a pod of the run's newest attempt, or of the one after (made by a reconcile whose status write this cache
    /// does not show yet), is there and not ended: read fresh when the cache does not have it.
    /// </summary>
    private async Task<bool> HasLivePodAsync(BuildRun run, CancellationToken ct)
    {
        var newest = run.Status?.AttemptCount ?? 0;
        foreach (var attempt in new[] { newest, newest + 1 }.Where(a => a > 0))
        {
            var pod = await AttemptPods.ReadOrGoneAsync(kube, pods, run.Namespace(), DesiredBuildPod.PodName(run.Name(), attempt), ct);
            if (BuildAttempts.Judge(pod).Result is AttemptOutcome.Pending or AttemptOutcome.Running)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// Gives the builder's volumes back once this run has no pod on them, with the releases its pod reported; nothing
    /// when the builder shows no claim of this run's.
    /// </summary>
    private async Task ReleaseVolumesAsync(BuildRun run, GentooBuilder? builder, CancellationToken ct, ReportReleases? releases = null, DateTime? now = null)
    {
        if (builder?.Status?.CurrentBuildRun != run.Name())
        {
            return;
        }

        await builderStatus.UpdateAsync(builder, b =>
        {
            if (b.Status.CurrentBuildRun == run.Name())
            {
                b.Status.CurrentBuildRun = null;
                Releases.Apply(b.Status, releases, now ?? DateTime.UtcNow);
            }
        }, ct);
        if (Releases.PurgeMessage(releases) is { } purged)
        {
            await events.RecordAsync(builder, "Normal", "Purged", $"after BuildRun {run.Name()}: {purged}", ct);
        }
    }

    /// <summary>
    /// A person's stop: the attempt's pod is deleted with its grace period (emerge gets SIGTERM and finishes its phase), and
    /// only once it is gone does the run end, Failed with reason Stopped, and give the builder's volumes back.
    /// </summary>
    private async Task<ReconcileResult> StopAsync(BuildRun run, GentooBuilder? builder, StatusChanges<BuildRun> changes, DateTime now, CancellationToken ct)
    {
        if ((run.Status.AttemptCount ?? 0) > 0)
        {
            var podName = DesiredBuildPod.PodName(run.Name(), run.Status.AttemptCount!.Value);
            var pod = await CoreWrites.ReadOrNullAsync(() => kube.CoreV1.ReadNamespacedPodAsync(podName, run.Namespace(), cancellationToken: ct));
            if (pod is not null)
            {
                if (pod.Metadata.DeletionTimestamp is null && !PodPhases.HasEnded(pod.Status?.Phase))
                {
                    await CoreWrites.DeleteIfPresentAsync(() => kube.CoreV1.DeleteNamespacedPodAsync(podName, run.Namespace(), cancellationToken: ct));
                    await events.RecordAsync(run, "Normal", Reasons.Stopped, $"stopping: pod {podName} gets SIGTERM and its grace period", ct);
                }

                if (!PodPhases.HasEnded(pod.Status?.Phase))
                {
                    changes.Add(r => r.Status.Conditions = Conditions.MarkTrue(r.Status.Conditions, ConditionTypes.Reconciling, Reasons.Stopped,
                        $"stopping: waiting for pod {podName} to end", r.Metadata.Generation, now));
                    return ReconcileResult.After(settings.StaleViewRecheck); // the pod's deletion brings us back sooner
                }
            }
        }

        changes.Add(r => BuildRunStatuses.Stopped(r, now));
        if (builder is not null)
        {
            await ReleaseVolumesAsync(run, await builderApi.GetAsync(run.Namespace(), builder.Name(), ct), ct);
        }

        await events.RecordAsync(run, "Normal", Reasons.Stopped, "stopped by a person", ct);
        return ReconcileResult.Done;
    }

    private static void Wait(StatusChanges<BuildRun> changes, string reason, string message, DateTime now) =>
        changes.Add(r =>
        {
            r.Status.Phase = BuildRunPhase.Pending;
            r.Status.ObservedGeneration = r.Metadata.Generation;
            r.Status.Conditions = Conditions.MarkProgressing(r.Status.Conditions, reason, message, r.Metadata.Generation, now);
        });

    private static void Queue(BuildRun r, string waiting, DateTime now)
    {
        if (BuildRunStatuses.AttemptUnderWay(r))
        {
            return; // the stored run started an attempt after the view this was decided on: it no longer waits
        }

        r.Status.Phase = BuildRunPhase.Queued;
        r.Status.WaitingFor = waiting;
        r.Status.ObservedGeneration = r.Metadata.Generation;
        r.Status.Conditions = Conditions.MarkProgressing(r.Status.Conditions, Reasons.Queued, waiting, r.Metadata.Generation, now);
    }

    /// <summary>The backoff doubled per transient failure, from the end of the last attempt.</summary>
    private TimeSpan? RetryDelay(BuildRun run, DateTime now)
    {
        var last = run.Status.Attempts?.LastOrDefault();
        if (last?.EndTime is not { } ended)
        {
            return null;
        }

        var failures = run.Status.Attempts!.Count(a => a.Outcome == AttemptOutcome.Transient);
        var delay = TimeSpan.FromTicks(settings.BuildRetryBackoff.Ticks * (1L << Math.Min(failures - 1, 10)));
        return ended + delay - now;
    }
}
