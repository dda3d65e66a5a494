using Gentoo.Entities.Schema;
using Gentoo.Entities.V1Alpha1;
using Gentoo.Protocol;
using Gentoo.Operator.Decisions;
using Gentoo.Operator.Desired;
using Gentoo.Runtime;
using k8s;
using k8s.Models;
using Microsoft.Extensions.Logging;

namespace Gentoo.Operator.Reconcilers;

/// <summary>
/// A builder's maintenance pods: update (on request or a configuration change), sync (interval or schedule), publishing
/// a release a person chose, and a person's shell, one at a time and never beside a build pod; their end is recorded in status and an Event.
/// </summary>
public sealed class BuilderMaintenance(
    IKubernetes kube, ICache<V1Pod> pods, ICache<V1Node> nodes, PodSettings settings, TimeSpan progressInterval, EventRecorder events, ILogger log)
{
    private readonly StatusWriter<GentooBuilder, GentooBuilderSpec, GentooBuilderStatus> status = new(new ResourceApi<GentooBuilder>(kube));

    /// <summary>
    /// Update, sync and shell pods: follows the running one, else starts one when asked (annotation), when the
    /// configuration changed, or when the sync interval is due. Updates and syncs wait while a BuildRun holds the
    /// builder (one awaiting a person keeps its build tree as it was); a person's shell waits only for a build pod, so
    /// that a failed build can be looked into before it is resumed. Returns when to look again.
    /// </summary>
    public async Task<TimeSpan?> RunAsync(
        GentooBuilder builder, GentooBootstrap? bootstrap, BuildRun? holder, string configDigest, StatusChanges<GentooBuilder> changes, DateTime now,
        CancellationToken ct)
    {
        if (builder.Status.CurrentMaintenance is { } current)
        {
            var pod = await AttemptPods.ReadOrGoneAsync(kube, pods, builder.Namespace(), current, ct);
            var verdict = BuildAttempts.Judge(pod, node => nodes.Get(new ObjectKey("", node)));
            var step = pod.Metadata.Labels?.TryGetValue(DesiredBuilderPods.MaintenanceLabel, out var label) == true && AgentSteps.TryParse(label, out var labelled) ? labelled
                : current.Contains("-shell-", StringComparison.Ordinal) ? AgentStep.Shell : AgentStep.Update;
            if (verdict.Reason == Reasons.NodeUnreachable)
            {
                // As for a build pod: the pod may still write the volumes, so nothing else starts on them; a person is told
                // what to do, once. The pod's events (the node back, the pod gone) bring us back.
                var unheard = $"{step.Name()} pod {current}: {verdict.Message}";
                if (Conditions.Find(changes.Observed.Status?.Conditions, ConditionTypes.Reconciling)?.Reason != Reasons.NodeUnreachable)
                {
                    await events.RecordAsync(builder, "Warning", Reasons.NodeUnreachable, unheard, ct);
                    log.LogWarning("GentooBuilder {Namespace}/{Name}: {Message}", builder.Namespace(), builder.Name(), unheard);
                }

                changes.Add(b => b.Status.Conditions = Conditions.MarkTrue(b.Status.Conditions, ConditionTypes.Reconciling, Reasons.NodeUnreachable, unheard, b.Metadata.Generation, now));
                return null;
            }

            if (verdict.Result is AttemptOutcome.Pending || (verdict.Result is AttemptOutcome.Running && step is AgentStep.Shell or AgentStep.Publish))
            {
                return null; // the pod's events bring us back
            }

            if (verdict.Result is AttemptOutcome.Running)
            {
                // Its end brings us back by the pod's events; how far it got is looked at now and then (kubectl gentoo update --wait).
                if (await PodProgress.ReadAsync(kube, pod, log, ct) is { } progress)
                {
                    changes.Add(b => b.Status.MaintenanceProgress = progress);
                }

                return progressInterval;
            }

            var message = step == AgentStep.Shell ? $"the shell pod {current} ended; builds may run again"
                : verdict.Result == AttemptOutcome.Succeeded
                    ? step switch
                    {
                        AgentStep.Sync => "repositories synced",
                        AgentStep.Publish => $"release {verdict.Report?.Releases?.Published} published",
                        _ => "repositories synced; " + UpdatePreviews.Summary(verdict.Report),
                    }
                    : $"{step.Name()}: {verdict.Report?.Error ?? verdict.Message}";
            changes.Add(b =>
            {
                b.Status.CurrentMaintenance = null;
                b.Status.MaintenanceProgress = null;
                b.Status.Phase = BuilderPhase.Ready;
                if (step == AgentStep.Publish)
                {
                    Releases.Apply(b.Status, verdict.Report?.Releases, now);
                    return;
                }

                b.Status.LastSyncTime = step == AgentStep.Shell ? b.Status.LastSyncTime : now;
                if (step == AgentStep.Update)
                {
                    b.Status.LastUpdateTime = now;
                    b.Status.LastUpdateResult = message.Length > 4096 ? message[..4096] : message;
                }
            });
            var reason = step switch { AgentStep.Sync => "Synced", AgentStep.Shell => "ShellEnded", AgentStep.Publish => "Published", _ => "Updated" };
            await events.RecordAsync(builder, verdict.Result == AttemptOutcome.Succeeded || step == AgentStep.Shell ? "Normal" : "Warning",
                verdict.Result == AttemptOutcome.Succeeded || step != AgentStep.Publish ? reason : "PublishFailed", message, ct);
            if (Releases.PurgeMessage(verdict.Report?.Releases) is { } purged)
            {
                await events.RecordAsync(builder, "Normal", "Purged", $"after publishing: {purged}", ct);
            }

            return null;
        }

        var shell = RequestTokens.New(builder, RequestAnnotations.Shell, builder.Status.LastHandledShell);
        var publish = Releases.PendingPublish(builder);
        var token = RequestTokens.New(builder, RequestAnnotations.Update, builder.Status.LastHandledUpdate);
        var configChanged = builder.Status.ConfigDigest is { } known && known != configDigest;
        var (syncDue, nextSync) = SyncTimes(builder, now);
        AgentStep? next = shell is not null ? AgentStep.Shell : publish is not null ? AgentStep.Publish
            : token is not null || configChanged ? AgentStep.Update : syncDue ? AgentStep.Sync : null;
        if (next is not { } what)
        {
            return nextSync;
        }

        if (holder is not null && what != AgentStep.Shell)
        {
            return null; // after the build: the runs' changes bring us back
        }

        var id = what switch
        {
            AgentStep.Sync => now.ToString("yyyyMMdd-HHmmss", System.Globalization.CultureInfo.InvariantCulture),
            AgentStep.Shell => Digest.Of(shell!, 10),
            AgentStep.Publish => publish!,
            _ => Digest.Of((token ?? "") + "/" + configDigest, 10),
        };
        var name = DesiredBuilderPods.MaintenancePodName(builder.Name(), what, id);
        foreach (var old in pods.OwnedBy(builder.Uid()).Where(p => p.Metadata.Labels?.ContainsKey(DesiredBuilderPods.MaintenanceLabel) == true
                     && p.Metadata.Labels[DesiredBuilderPods.MaintenanceLabel] != "copy-root" && PodPhases.HasEnded(p.Status?.Phase)))
        {
            await kube.CoreV1.DeleteNamespacedPodAsync(old.Name(), old.Namespace(), cancellationToken: ct); // keep only the newest pod's log
        }

        // The volumes are claimed in status before the pod exists, and only while no build pod has them: runs claim them
        // the same way, and a conflicting write is retried on a fresh read, so of two starting at once exactly one wins.
        // The claim cannot wait for the end of the reconcile: it is written now, with the changes decided so far.
        var stored = await status.WriteAsync(changes, ct, b =>
        {
            if (b.Status.CurrentBuildRun is not null || b.Status.CurrentMaintenance is not null)
            {
                return;
            }

            b.Status.CurrentMaintenance = name;
            b.Status.Phase = what switch
            {
                AgentStep.Sync => BuilderPhase.Syncing,
                AgentStep.Shell => BuilderPhase.Shell,
                AgentStep.Publish => BuilderPhase.Publishing,
                _ => BuilderPhase.Updating,
            };
            if (what == AgentStep.Shell)
            {
                b.Status.LastHandledShell = shell;
                return; // a person's shell answers no update request and takes in no configuration change
            }

            if (what == AgentStep.Publish)
            {
                // Tried once: a release that cannot be published (purged meanwhile) is said in an Event, not retried forever.
                b.Status.Releases ??= new BuilderReleases();
                b.Status.Releases.LastHandledPublish = publish;
                return;
            }

            b.Status.LastHandledUpdate = token ?? b.Status.LastHandledUpdate;
            b.Status.ConfigDigest = configDigest;
        });
        if (stored.Status.CurrentMaintenance != name)
        {
            return null; // a build pod has the volumes: its release of them brings us back
        }
        await CoreWrites.CreateIfMissingAsync(kube, DesiredBuilderPods.Maintenance(builder, what, id, bootstrap?.Spec.ConfigFrom, settings, publish), ct);
        log.LogInformation("GentooBuilder {Namespace}/{Name}: {Step} pod {Pod} started ({Why})", builder.Namespace(), builder.Name(), what, name,
            what == AgentStep.Publish ? $"release {publish}" : shell is not null || token is not null ? "requested" : configChanged ? "configuration changed" : "sync interval");
        return null;
    }

    private static (bool Due, TimeSpan? Next) SyncTimes(GentooBuilder builder, DateTime now)
    {
        var since = builder.Status.LastSyncTime ?? builder.Metadata.CreationTimestamp ?? now;
        if (builder.Spec.Sync?.Interval is { } interval && Durations.TryParse(interval, out var every))
        {
            var due = since + every;
            return (due <= now, due <= now ? null : due - now);
        }

        if (builder.Spec.Sync?.Schedule is { } schedule && AutoBuilds.TryParse(schedule, null, "spec.sync", out var cron, out var zone, out _))
        {
            var times = AutoBuilds.Times(cron, zone, since, now);
            return (times.Due is not null, times.Next - now);
        }

        return (false, null);
    }
}
