using Gentoo.Entities.V1Alpha1;
using Gentoo.Operator.Decisions;
using Gentoo.Operator.Desired;
using Gentoo.Runtime;
using Gentoo.Operator.Storage;
using k8s;
using k8s.Models;
using Microsoft.Extensions.Logging;

namespace Gentoo.Operator.Reconcilers;

/// <summary>
/// Bootstraps a Gentoo root: creates the root volume, renders the Portage configuration and the plan, runs a bootstrap
/// pod (stage3 unpacked once, the steps not yet done for this spec, then the check), breaks a circular dependency once
/// by itself when allowed or waits for a person, and finally preserves the root for builders: a VolumeSnapshot where
/// the cluster can take one, else the volume itself, which builders copy. A new generation, a rerun or a resume token
/// starts the next pod; steps that already ran with the same definition are not run again.
/// </summary>
public sealed class GentooBootstrapReconciler(
    IKubernetes kube,
    ICache<GentooBootstrap> bootstraps,
    ICache<V1Pod> pods,
    ICache<V1PersistentVolumeClaim> claims,
    LifecycleSettings settings,
    EventRecorder events,
    TimeProvider clock,
    ILogger<GentooBootstrapReconciler> log) : IReconciler<GentooBootstrap>
{
    private readonly ResourceApi<GentooBootstrap> bootstrapApi = new(kube);
    private readonly StatusWriter<GentooBootstrap, GentooBootstrapSpec, GentooBootstrapStatus> status = new(new ResourceApi<GentooBootstrap>(kube));
    private readonly ResourceApi<VolumeSnapshot> snapshots = new(kube);

    public async Task<ReconcileResult> ReconcileAsync(ReconcileRequest request, CancellationToken ct)
    {
        if (bootstraps.Get(request.Key) is not { } bootstrap || bootstrap.Metadata.DeletionTimestamp is not null)
        {
            return ReconcileResult.Done; // the root volume, config and pods go with it (owner references); snapshots stay
        }

        var now = clock.GetUtcNow().UtcDateTime;
        // The steps below decide status changes; they are written once, here, whichever step ends the reconcile.
        var changes = status.Changes(bootstrap);
        ReconcileResult result;
        try
        {
            result = await ReconcileBootstrapAsync(request, bootstrap, changes, now, ct);
        }
        catch (OwnershipConflictException e)
        {
            Stop(changes, new ClaimProblem(Reasons.NameConflict, e.Message, Stalled: true), now);
            result = ReconcileResult.After(settings.SnapshotPoll);
        }

        await status.WriteAsync(changes, ct);
        return result;
    }

    /// <summary>
    /// Before bootstrap objects carried "bootstrap" in their names, a bootstrap's configuration and plan were NAME-portage
    /// and NAME-plan, which a builder of the same name wants for its own configuration. Those this bootstrap owns go: it
    /// writes its configuration under the new names before any pod of its reads it.
    /// </summary>
    private async Task RetireLegacyConfigMapsAsync(GentooBootstrap bootstrap, CancellationToken ct)
    {
        foreach (var name in DesiredBootstrap.LegacyConfigMapNames(bootstrap.Name()))
        {
            if (await CoreWrites.ReadConfigMapAsync(kube, bootstrap.Namespace(), name, ct) is { } legacy
                && legacy.Metadata.OwnerReferences?.Any(o => o.Controller == true && o.Uid == bootstrap.Uid()) == true)
            {
                await CoreWrites.DeleteIfPresentAsync(() => kube.CoreV1.DeleteNamespacedConfigMapAsync(name, bootstrap.Namespace(), cancellationToken: ct));
                log.LogInformation("GentooBootstrap {Namespace}/{Name}: removed ConfigMap {ConfigMap}, named as before bootstrap objects carried 'bootstrap' in their names",
                    bootstrap.Namespace(), bootstrap.Name(), name);
            }
        }
    }

    private static void Stop(StatusChanges<GentooBootstrap> changes, ClaimProblem problem, DateTime now) =>
        changes.Add(b =>
        {
            b.Status.ObservedGeneration = b.Metadata.Generation;
            if (problem.Stalled)
            {
                BootstrapStatuses.Stall(b, problem.Reason, problem.Message, now);
            }
            else
            {
                BootstrapStatuses.Progressing(b, problem.Reason, problem.Message, now);
            }
        });

    private async Task<ReconcileResult> ReconcileBootstrapAsync(
        ReconcileRequest request, GentooBootstrap bootstrap, StatusChanges<GentooBootstrap> changes, DateTime now, CancellationToken ct)
    {
        await RetireLegacyConfigMapsAsync(bootstrap, ct);
        var desiredRoot = DesiredVolumes.BootstrapRoot(bootstrap);
        // The cache holds only the operator's own claims: a claim somebody else made under the name shows on creating.
        var existingRoot = claims.Get(new ObjectKey(request.Namespace, desiredRoot.Name())) ?? await CoreWrites.CreateOrReadAsync(kube, desiredRoot, ct);
        if (existingRoot is not null && ClaimChecks.Check(existingRoot, desiredRoot, bootstrap, pods.List(request.Namespace)) is { } problem)
        {
            // Another object's claim is not watched: look again now and then, in case a person moved it away.
            Stop(changes, problem, now);
            return ReconcileResult.After(settings.SnapshotPoll);
        }

        var state = bootstrap.Status;
        var attempt = state.AttemptCount ?? 0;
        if (state.Phase == BootstrapPhase.Bootstrapping && attempt > 0)
        {
            return await FollowAttemptAsync(bootstrap, attempt, changes, now, ct);
        }

        var rerun = RequestTokens.New(bootstrap, RequestAnnotations.Rerun, state.LastHandledRerun);
        var resume = state.Phase == BootstrapPhase.AwaitingOperator ? RequestTokens.New(bootstrap, RequestAnnotations.Resume, state.LastHandledResume) : null;
        if (attempt == 0 || state.ObservedGeneration != bootstrap.Metadata.Generation || rerun is not null || resume is not null)
        {
            return await StartAttemptAsync(bootstrap, rerun, resume, changes, now, ct);
        }

        return state.Phase switch
        {
            BootstrapPhase.Retrying => RetryDue(bootstrap, now) is { } wait && wait > TimeSpan.Zero
                ? ReconcileResult.After(wait)
                : await StartAttemptAsync(bootstrap, null, null, changes, now, ct),
            BootstrapPhase.Snapshotting => await SnapshotAsync(bootstrap, changes, now, ct),
            BootstrapPhase.Pending => await StartAttemptAsync(bootstrap, null, null, changes, now, ct),
            _ => ReconcileResult.Done, // Ready, or AwaitingOperator until a person answers
        };
    }

    private async Task<ReconcileResult> StartAttemptAsync(
        GentooBootstrap bootstrap, string? rerun, string? resume, StatusChanges<GentooBootstrap> changes, DateTime now, CancellationToken ct)
    {
        var sources = await PortageConfigSources.ReadAsync(kube, bootstrap.Namespace(), bootstrap.Spec.ConfigFrom, ct);
        if (sources.Problem is { } problem)
        {
            changes.Add(b =>
            {
                b.Status.Phase = BootstrapPhase.Pending;
                b.Status.ObservedGeneration = b.Metadata.Generation;
                BootstrapStatuses.Progressing(b, PortageConfigSources.ConfigNotFound, problem, now);
            });
            return ReconcileResult.After(settings.ConfigPoll);
        }

        var steps = rerun is not null ? DesiredBootstrap.AllSteps(bootstrap) : DesiredBootstrap.RemainingSteps(bootstrap);
        var name = bootstrap.Name();
        await CoreWrites.ApplyConfigMapAsync(kube, DesiredConfig.ConfigMap(bootstrap, DesiredBootstrap.ConfigMapName(name), DesiredBootstrap.Config(bootstrap, sources.ConfigMaps)), bootstrap, ct);
        await CoreWrites.ApplyConfigMapAsync(kube, DesiredConfig.ConfigMap(bootstrap, DesiredBootstrap.PlanConfigMapName(name),
            new Dictionary<string, string> { [DesiredBootstrap.PlanKey] = DesiredBootstrap.Plan(bootstrap, steps) }), bootstrap, ct);

        var attempt = (bootstrap.Status.AttemptCount ?? 0) + 1;
        var created = await CoreWrites.CreateIfMissingAsync(kube, DesiredBootstrap.Pod(bootstrap, attempt, settings.Pods), ct);
        var what = steps.Count > 0 ? $"steps {string.Join(", ", steps.Select(s => s.Name))}, then the check" : "the check";
        changes.Add(b =>
        {
            if ((b.Status.AttemptCount ?? 0) >= attempt)
            {
                return; // our cache was behind our own status write: the fresh status already records this pod
            }

            b.Status.AttemptCount = attempt;
            b.Status.ObservedGeneration = b.Metadata.Generation;
            b.Status.RootVolume = DesiredVolumes.BootstrapRootName(b);
            b.Status.LastHandledRerun = rerun ?? b.Status.LastHandledRerun;
            b.Status.LastHandledResume = resume ?? b.Status.LastHandledResume;
            if (rerun is not null)
            {
                b.Status.CompletedSteps = null;
                b.Status.CompletedStepDigests = null;
            }

            b.Status.Phase = BootstrapPhase.Bootstrapping;
            b.Status.CurrentStep = steps.Count > 0 ? steps[0].Name : DesiredBootstrap.CheckStep;
            BootstrapStatuses.Progressing(b, Reasons.Bootstrapping, $"pod {DesiredBootstrap.PodName(name, attempt)} runs {what}", now);
        });
        if (!created)
        {
            // The pod was there: our view of the status was stale, and status writes do not wake us. Look again shortly.
            return ReconcileResult.After(settings.StaleViewRecheck);
        }

        log.LogInformation("GentooBootstrap {Namespace}/{Name}: started bootstrap pod {Attempt} for {What}", bootstrap.Namespace(), name, attempt, what);
        return ReconcileResult.Done;
    }

    private async Task<ReconcileResult> FollowAttemptAsync(
        GentooBootstrap bootstrap, int attempt, StatusChanges<GentooBootstrap> changes, DateTime now, CancellationToken ct)
    {
        var podName = DesiredBootstrap.PodName(bootstrap.Name(), attempt);
        var pod = await AttemptPods.ReadOrGoneAsync(kube, pods, bootstrap.Namespace(), podName, ct);
        var verdict = BuildAttempts.Judge(pod);
        // A stale view may name an older pod than the status now does: its verdict is history, not news. What follows an
        // ended pod (the next steps, the snapshot, events) is checked against a fresh read before it acts.
        bool IsPast(GentooBootstrap b) => b.Status.AttemptCount != attempt || b.Status.Phase != BootstrapPhase.Bootstrapping;
        if (verdict.Result is not (AttemptOutcome.Pending or AttemptOutcome.Running)
            && await bootstrapApi.GetAsync(bootstrap.Namespace(), bootstrap.Name(), ct) is { } stored)
        {
            if (IsPast(stored))
            {
                return ReconcileResult.After(settings.StaleViewRecheck);
            }

            bootstrap = stored;
            changes.Refresh(stored);
        }

        var ran = DesiredBootstrap.RemainingSteps(bootstrap);
        BootstrapNext Judge(GentooBootstrap b) => IsPast(b) ? BootstrapNext.Wait : BootstrapStatuses.Apply(b, verdict, ran, now);

        // Decided on a copy of the bootstrap as read; the same change is written at the end of the reconcile.
        var updated = changes.Preview();
        var next = Judge(updated);
        changes.Add(b => Judge(b));

        if (next is BootstrapNext.AwaitOperator)
        {
            var reason = Conditions.Find(updated.Status.Conditions, ConditionTypes.AwaitingOperator)?.Reason ?? verdict.Reason;
            await events.RecordAsync(updated, "Warning", reason, updated.Status.Failure?.Message ?? verdict.Message, ct);
        }

        if (next is not BootstrapNext.Wait)
        {
            log.LogInformation("GentooBootstrap {Namespace}/{Name} pod {Attempt}: {Reason}: {Message}", bootstrap.Namespace(), bootstrap.Name(), attempt, verdict.Reason, verdict.Message);
        }

        return next switch
        {
            BootstrapNext.StartAttempt => await StartAttemptAsync(updated, null, null, changes, now, ct),
            BootstrapNext.Retry => ReconcileResult.After(settings.BootstrapRetryBackoff),
            BootstrapNext.Snapshot => await SnapshotAsync(updated, changes, now, ct),
            _ => ReconcileResult.Done,
        };
    }

    /// <summary>Preserves the bootstrapped root: a VolumeSnapshot until it is ready to use, or the volume itself to copy.</summary>
    private async Task<ReconcileResult> SnapshotAsync(GentooBootstrap bootstrap, StatusChanges<GentooBootstrap> changes, DateTime now, CancellationToken ct)
    {
        var ns = bootstrap.Namespace();
        var root = DesiredVolumes.BootstrapRootName(bootstrap);
        var name = DesiredAgentPod.Name(bootstrap.Name(), "root-" + bootstrap.Status.AttemptCount);
        var snapshot = await snapshots.GetAsync(ns, name, ct);
        if (snapshot is null)
        {
            var claim = claims.Get(new ObjectKey(ns, root)) ?? await kube.CoreV1.ReadNamespacedPersistentVolumeClaimAsync(root, ns, cancellationToken: ct);
            var choice = await SnapshotSupport.DiscoverAsync(kube, bootstrap.Spec.Storage?.VolumeSnapshotClassName, claim, ct);
            if (!choice.CanSnapshot)
            {
                return await ReadyAsync(bootstrap, new BootstrapSnapshot { Method = "PvcCopy", Name = root, ReadyToUse = true, CreationTime = now }, choice.Explanation, changes, now, ct);
            }

            snapshot = await snapshots.CreateAsync(DesiredSnapshots.Of(root, name, ns, choice.ClassName!, new Dictionary<string, string> { [ObjectLabels.Bootstrap] = bootstrap.Name() }), ct);
            log.LogInformation("GentooBootstrap {Namespace}/{Name}: snapshot {Snapshot} requested ({How})", ns, bootstrap.Name(), name, choice.Explanation);
        }

        if (snapshot.Status?.Error?.Message is { } error && snapshot.Status.ReadyToUse != true)
        {
            return await ReadyAsync(bootstrap, new BootstrapSnapshot { Method = "PvcCopy", Name = root, ReadyToUse = true, CreationTime = now },
                $"VolumeSnapshot {name} failed ({error}); the root volume is copied instead", changes, now, ct);
        }

        if (snapshot.Status?.ReadyToUse == true)
        {
            return await ReadyAsync(bootstrap, new BootstrapSnapshot { Method = "VolumeSnapshot", Name = name, ReadyToUse = true, CreationTime = snapshot.Status.CreationTime ?? now },
                $"VolumeSnapshot {name} is ready to use", changes, now, ct);
        }

        changes.Add(b =>
        {
            b.Status.Snapshot = new BootstrapSnapshot { Method = "VolumeSnapshot", Name = name, ReadyToUse = false };
            BootstrapStatuses.Progressing(b, Reasons.SnapshotNotReady, $"waiting for VolumeSnapshot {name} to be ready to use", now);
        });
        return ReconcileResult.After(settings.SnapshotPoll);
    }

    private async Task<ReconcileResult> ReadyAsync(
        GentooBootstrap bootstrap, BootstrapSnapshot snapshot, string how, StatusChanges<GentooBootstrap> changes, DateTime now, CancellationToken ct)
    {
        changes.Add(b => BootstrapStatuses.MarkReady(b, snapshot, how, now));
        await events.RecordAsync(bootstrap, "Normal", Reasons.Ready, how, ct);
        log.LogInformation("GentooBootstrap {Namespace}/{Name} is ready: {How}", bootstrap.Namespace(), bootstrap.Name(), how);
        return ReconcileResult.Done;
    }

    private TimeSpan? RetryDue(GentooBootstrap bootstrap, DateTime now) =>
        Conditions.Find(bootstrap.Status.Conditions, ConditionTypes.Ready)?.LastTransitionTime is { } since ? since + settings.BootstrapRetryBackoff - now : null;
}
