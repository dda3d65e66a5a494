using System.Security.Cryptography;
using System.Text;
using Gentoo.Entities.V1Alpha1;
using Gentoo.Operator.Decisions;
using Gentoo.Operator.Desired;
using Gentoo.Operator.Runtime;
using Gentoo.Operator.Storage;
using Gentoo.Portage.Kernels;
using k8s;
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
    PodSettings settings,
    EventRecorder events,
    TimeProvider clock,
    ILogger<GentooBuilderReconciler> log,
    TimeSpan? snapshotPoll = null) : IReconciler<GentooBuilder>
{
    public const string Ready = "Ready";
    public const string Updating = "Updating";
    public const string Syncing = "Syncing";
    public const string Building = "Building";
    public const string Shell = "Shell";

    private readonly TimeSpan poll = snapshotPoll ?? GentooBootstrapReconciler.DefaultSnapshotPoll;
    private readonly StatusWriter<GentooBuilder, GentooBuilderStatus> status = new(new ResourceApi<GentooBuilder>(kube));
    private readonly ResourceApi<VolumeSnapshot> snapshots = new(kube);
    private readonly ResourceApi<BuildRun> runApi = new(kube);

    public async Task<ReconcileResult> ReconcileAsync(ReconcileRequest request, CancellationToken ct)
    {
        if (builders.Get(request.Key) is not { } builder || builder.Metadata.DeletionTimestamp is not null)
        {
            // Root and distfiles go with the builder (owner references); binpkgs under Retain and every snapshot stay.
            return ReconcileResult.Done;
        }

        var now = clock.GetUtcNow().UtcDateTime;
        var bootstrap = builder.Spec.BootstrapRef is { } reference ? bootstraps.Get(new ObjectKey(request.Namespace, reference.Name)) : null;
        var image = bootstrap?.Spec.Stage3.Image ?? settings.OperatorImage;

        // The build tree: volumes, then (where the root is copied) the copy.
        var populated = builder.Status.Volumes?.Root is not null;
        if (!populated)
        {
            var (source, reason, message) = await RootSourceAsync(builder, bootstrap, ct);
            if (source is null)
            {
                await NotReadyAsync(builder, reason, message, now, ct);
                return builder.Spec.RestoreFrom is not null ? ReconcileResult.After(poll) : ReconcileResult.Done;
            }

            await EnsureVolumesAsync(builder, source, ct);
            if (source.Kind == "PersistentVolumeClaim" && await CopyRootAsync(builder, source.Name, image, now, ct) is { } waiting)
            {
                return waiting;
            }
        }
        else
        {
            await EnsureVolumesAsync(builder, null, ct);
        }

        var config = await ConfigAsync(builder, bootstrap, ct);
        if (config.Problem is { } problem)
        {
            await NotReadyAsync(builder, PortageConfigSources.ConfigNotFound, problem, now, ct);
            return ReconcileResult.After(TimeSpan.FromSeconds(30));
        }

        await CoreWrites.ApplyConfigMapAsync(kube, DesiredConfig.ConfigMap(builder, DesiredBuilderPods.ConfigMapName(builder.Name()), config.Data), ct);
        var ofBuilder = runs.List(request.Namespace).Where(r => r.Spec.BuilderRef.Name == builder.Name()).ToList();
        var holder = BuilderQueue.Holder(ofBuilder);
        var lastSuccess = ofBuilder.Where(r => r.Status?.Phase == "Succeeded").MaxBy(r => r.Status.CompletionTime ?? DateTime.MinValue);
        var previousSuccess = builder.Status.LastSuccessfulBuildRun;
        builder = await status.UpdateAsync(builder, b =>
        {
            b.Status.Volumes = new BuilderVolumes
            {
                Root = DesiredVolumes.RootName(b.Name()),
                Binpkgs = DesiredVolumes.BinpkgsName(b.Name()),
                Distfiles = DesiredVolumes.DistfilesName(b.Name()),
            };
            b.Status.ObservedGeneration = b.Metadata.Generation;
            b.Status.ConfigDigest ??= config.Digest; // the first configuration is the bootstrap's: nothing to update for
            b.Status.CurrentBuildRun = holder?.Status?.AttemptCount > 0 ? holder.Name() : null;
            b.Status.LastSuccessfulBuildRun = lastSuccess?.Name() ?? b.Status.LastSuccessfulBuildRun;
            b.Status.RequiredKernel = BuiltKernel(bootstrap, ofBuilder) ?? b.Status.RequiredKernel;
            b.Status.Phase = b.Status.CurrentMaintenance is not null ? b.Status.Phase : b.Status.CurrentBuildRun is not null ? Building : Ready;
            b.Status.Failure = null;
            var how = builder.Spec.RestoreFrom is { } from ? $"root restored from VolumeSnapshot {from.Name}"
                : bootstrap?.Status.Snapshot is { } snapshot ? $"root made from {snapshot.Method} {snapshot.Name} of GentooBootstrap {bootstrap.Name()}"
                : "volumes ready";
            b.Status.Conditions = Conditions.Remove(b.Status.Conditions, ConditionTypes.Reconciling);
            b.Status.Conditions = Conditions.MarkTrue(b.Status.Conditions, ConditionTypes.Ready, Reasons.Succeeded,
                Conditions.IsTrue(b.Status.Conditions, ConditionTypes.Ready) ? Conditions.Find(b.Status.Conditions, ConditionTypes.Ready)!.Message : how, b.Metadata.Generation, now);
        }, ct);

        await BinhostAsync(builder, ofBuilder, ct);
        var next = new List<TimeSpan?>
        {
            await MaintenanceAsync(builder, bootstrap, holder, config.Digest, image, now, ct),
            await AutoBuildAsync(builder, ofBuilder, holder, now, ct),
            await SnapshotsAsync(builder, lastSuccess is not null && lastSuccess.Name() != previousSuccess ? lastSuccess : null, now, ct),
        };
        return next.Where(t => t is not null).Select(t => t!.Value).DefaultIfEmpty(TimeSpan.Zero).Min() is var soonest && soonest > TimeSpan.Zero
            ? ReconcileResult.After(soonest)
            : ReconcileResult.Done;
    }

    /// <summary>
    /// Runs the builder's binhost (unless disabled) on the node its pods last used, where a ReadWriteOnce binpkgs
    /// volume is attached, and records where clients find it.
    /// </summary>
    private async Task BinhostAsync(GentooBuilder builder, IReadOnlyList<BuildRun> ofBuilder, CancellationToken ct)
    {
        var ns = builder.Namespace();
        var name = DesiredBinhost.Name(builder.Name());
        if (builder.Spec.Binhost?.Enabled == false)
        {
            await CoreWrites.DeleteIfPresentAsync(() => kube.AppsV1.DeleteNamespacedDeploymentAsync(name, ns, cancellationToken: ct));
            await CoreWrites.DeleteIfPresentAsync(() => kube.CoreV1.DeleteNamespacedServiceAsync(name, ns, cancellationToken: ct));
            await status.UpdateAsync(builder, b => b.Status.BinhostUrl = null, ct);
            return;
        }

        var node = ofBuilder.SelectMany(r => r.Status?.Attempts ?? []).Where(a => a.Node is not null).MaxBy(a => a.StartTime ?? DateTime.MinValue)?.Node;
        var desired = DesiredBinhost.Deployment(builder, settings.OperatorImage, node);
        var existing = await CoreWrites.ReadDeploymentAsync(kube, ns, name, ct);
        if (existing is null)
        {
            await CoreWrites.CreateIfMissingAsync(() => kube.AppsV1.CreateNamespacedDeploymentAsync(desired, ns, cancellationToken: ct));
        }
        else if (DesiredBinhost.Differs(existing, desired))
        {
            existing.Spec.Template = desired.Spec.Template;
            await kube.AppsV1.ReplaceNamespacedDeploymentAsync(existing, name, ns, cancellationToken: ct);
            log.LogInformation("GentooBuilder {Namespace}/{Name}: binhost moved to node {Node}", ns, builder.Name(), node ?? "(any)");
        }

        await CoreWrites.CreateIfMissingAsync(() => kube.CoreV1.CreateNamespacedServiceAsync(DesiredBinhost.Service(builder), ns, cancellationToken: ct));
        await status.UpdateAsync(builder, b => b.Status.BinhostUrl = DesiredBinhost.Url(b), ct);
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

    private async Task EnsureVolumesAsync(GentooBuilder builder, RootSource? source, CancellationToken ct)
    {
        foreach (var claim in DesiredVolumes.Builder(builder, source ?? RootSource.CopyOf("")))
        {
            var isRoot = claim.Metadata.Name == DesiredVolumes.RootName(builder.Name());
            if ((source is not null || !isRoot) && claims.Get(ObjectKey.Of(claim)) is null)
            {
                await CoreWrites.CreateIfMissingAsync(kube, claim, ct);
            }
        }
    }

    /// <summary>Runs the copy pod until it succeeded; null once the root is filled, else when to look again.</summary>
    private async Task<ReconcileResult?> CopyRootAsync(GentooBuilder builder, string sourceClaim, string image, DateTime now, CancellationToken ct)
    {
        var name = DesiredBuilderPods.CopyPodName(builder.Name());
        if (pods.Get(new ObjectKey(builder.Namespace(), name)) is not { } pod)
        {
            await CoreWrites.CreateIfMissingAsync(kube, DesiredBuilderPods.CopyRoot(builder, sourceClaim, image), ct);
            await NotReadyAsync(builder, "CopyingRoot", $"copying the root from PersistentVolumeClaim {sourceClaim} (pod {name})", now, ct);
            return ReconcileResult.Done;
        }

        switch (pod.Status?.Phase)
        {
            case "Succeeded":
                await events.RecordAsync(builder, "Normal", "RootCopied", $"root copied from PersistentVolumeClaim {sourceClaim}", ct);
                return null;
            case "Failed":
                var terminated = pod.Status.ContainerStatuses?.FirstOrDefault()?.State?.Terminated;
                var message = $"copying the root from {sourceClaim} failed (exit {terminated?.ExitCode}): {terminated?.Message ?? "see kubectl logs " + name}; delete pod {name} to try again";
                await NotReadyAsync(builder, "CopyFailed", message, now, ct, stalled: true);
                return ReconcileResult.Done;
            default:
                await NotReadyAsync(builder, "CopyingRoot", $"copying the root from PersistentVolumeClaim {sourceClaim} (pod {name})", now, ct);
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
        return new BuilderConfig(data, Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)))[..16], null);
    }

    /// <summary>
    /// Update and sync pods: follows the running one, else starts one when asked (annotation), when the configuration
    /// changed, or when the sync interval is due; never while a BuildRun holds the builder. Returns when to look again.
    /// </summary>
    private async Task<TimeSpan?> MaintenanceAsync(
        GentooBuilder builder, GentooBootstrap? bootstrap, BuildRun? holder, string configDigest, string image, DateTime now, CancellationToken ct)
    {
        if (builder.Status.CurrentMaintenance is { } current)
        {
            var pod = await CoreWrites.PodOrGoneAsync(kube, pods, builder.Namespace(), current, ct);
            var verdict = BuildAttempts.Judge(pod);
            if (verdict.Result is AttemptResult.Pending or AttemptResult.Running)
            {
                return null; // the pod's events bring us back
            }

            var step = pod.Metadata.Labels?.TryGetValue(DesiredBuilderPods.MaintenanceLabel, out var s) == true ? s
                : current.Contains("-shell-", StringComparison.Ordinal) ? "shell" : "update";
            var message = step == "shell" ? $"the shell pod {current} ended; builds may run again"
                : verdict.Result == AttemptResult.Succeeded
                    ? step == "sync" ? "repositories synced" : "repositories synced; the world update preview needs nothing from a person"
                    : $"{step}: {verdict.Message}";
            await status.UpdateAsync(builder, b =>
            {
                b.Status.CurrentMaintenance = null;
                b.Status.Phase = Ready;
                b.Status.LastSyncTime = step == "shell" ? b.Status.LastSyncTime : now;
                if (step == "update")
                {
                    b.Status.LastUpdateTime = now;
                    b.Status.LastUpdateResult = message.Length > 4096 ? message[..4096] : message;
                }
            }, ct);
            var reason = step switch { "sync" => "Synced", "shell" => "ShellEnded", _ => "Updated" };
            await events.RecordAsync(builder, verdict.Result == AttemptResult.Succeeded || step == "shell" ? "Normal" : "Warning", reason, message, ct);
            return null;
        }

        var shell = builder.Metadata.Annotations?.TryGetValue(RequestAnnotations.Shell, out var sh) == true && sh != builder.Status.LastHandledShell ? sh : null;
        var token = builder.Metadata.Annotations?.TryGetValue(RequestAnnotations.Update, out var t) == true && t != builder.Status.LastHandledUpdate ? t : null;
        var configChanged = builder.Status.ConfigDigest is { } known && known != configDigest;
        var (syncDue, nextSync) = SyncTimes(builder, now);
        var what = shell is not null ? "shell" : token is not null || configChanged ? "update" : syncDue ? "sync" : null;
        if (what is null)
        {
            return nextSync;
        }

        if (holder is not null)
        {
            return null; // after the build: the runs' changes bring us back
        }

        var id = what == "sync" ? now.ToString("yyyyMMdd-HHmmss", System.Globalization.CultureInfo.InvariantCulture)
            : Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(what == "shell" ? shell! : (token ?? "") + "/" + configDigest)))[..10];
        var name = DesiredBuilderPods.MaintenancePodName(builder.Name(), what, id);
        foreach (var old in pods.OwnedBy(builder.Uid()).Where(p => p.Metadata.Labels?.ContainsKey(DesiredBuilderPods.MaintenanceLabel) == true
                     && p.Metadata.Labels[DesiredBuilderPods.MaintenanceLabel] != "copy-root" && p.Status?.Phase is "Succeeded" or "Failed"))
        {
            await kube.CoreV1.DeleteNamespacedPodAsync(old.Name(), old.Namespace(), cancellationToken: ct); // keep only the newest pod's log
        }

        // Status first: a BuildRun that looks now sees the builder busy before the pod exists.
        await status.UpdateAsync(builder, b =>
        {
            b.Status.CurrentMaintenance = name;
            b.Status.Phase = what switch { "sync" => Syncing, "shell" => Shell, _ => Updating };
            if (what == "shell")
            {
                b.Status.LastHandledShell = shell;
                return; // a person's shell answers no update request and takes in no configuration change
            }

            b.Status.LastHandledUpdate = token ?? b.Status.LastHandledUpdate;
            b.Status.ConfigDigest = configDigest;
        }, ct);
        await CoreWrites.CreateIfMissingAsync(kube, DesiredBuilderPods.Maintenance(builder, what, id, image, bootstrap?.Spec.ConfigFrom, settings), ct);
        log.LogInformation("GentooBuilder {Namespace}/{Name}: {Step} pod {Pod} started ({Why})", builder.Namespace(), builder.Name(), what, name,
            shell is not null || token is not null ? "requested" : configChanged ? "configuration changed" : "sync interval");
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

        if (builder.Spec.Sync?.Schedule is { } schedule && AutoBuilds.TryParse(new AutoBuild { Schedule = schedule }, out var cron, out var zone, out _))
        {
            var times = AutoBuilds.Times(cron, zone, since, now);
            return (times.Due is not null, times.Next - now);
        }

        return (false, null);
    }

    /// <summary>Creates the due scheduled BuildRun (unless one is open: no overlap), prunes the history; returns when the next is due.</summary>
    private async Task<TimeSpan?> AutoBuildAsync(GentooBuilder builder, IReadOnlyList<BuildRun> ofBuilder, BuildRun? holder, DateTime now, CancellationToken ct)
    {
        if (builder.Metadata.Annotations?.TryGetValue(RequestAnnotations.Rebuild, out var rebuild) == true && rebuild != builder.Status.LastHandledRebuild)
        {
            // A rebuild now: the autoBuild packages (or @world), queued behind any open run like every other.
            var id = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(rebuild)))[..8];
            var run = ScheduledRun(builder, builder.Spec.AutoBuild ?? new AutoBuild(), now);
            run.Metadata.Name = DesiredAgentPod.Name(builder.Name(), "rebuild-" + id);
            run.Metadata.Labels.Remove(AutoBuilds.ScheduledByLabel);
            run.Metadata.Annotations = new Dictionary<string, string> { [RequestAnnotations.Rebuild] = rebuild };
            await CoreWrites.CreateIfMissingAsync(() => runApi.CreateAsync(run, ct));
            await status.UpdateAsync(builder, b => b.Status.LastHandledRebuild = rebuild, ct);
            await events.RecordAsync(builder, "Normal", "Rebuild", $"BuildRun {run.Metadata.Name} created on request", ct);
        }

        if (builder.Spec.AutoBuild is not { } auto)
        {
            return null;
        }

        if (!AutoBuilds.TryParse(auto, out var cron, out var zone, out var error))
        {
            await status.UpdateAsync(builder, b => b.Status.Conditions = Conditions.MarkTrue(b.Status.Conditions, ConditionTypes.Stalled, Reasons.InvalidSpec, error!, b.Metadata.Generation, now), ct);
            return null;
        }

        if (auto.Suspend == true)
        {
            return null;
        }

        var times = AutoBuilds.Times(cron, zone, builder.Status.LastScheduleTime ?? builder.Metadata.CreationTimestamp ?? now, now);
        if (times.Due is { } due)
        {
            if (holder is not null)
            {
                await events.RecordAsync(builder, "Normal", "SkippedOverlap", $"scheduled build at {due:u} skipped: BuildRun {holder.Name()} is still open", ct);
            }
            else
            {
                var run = ScheduledRun(builder, auto, due);
                await CoreWrites.CreateIfMissingAsync(() => runApi.CreateAsync(run, ct));
                await events.RecordAsync(builder, "Normal", "Scheduled", $"BuildRun {run.Metadata.Name} created for the schedule {auto.Schedule}", ct);
            }

            await status.UpdateAsync(builder, b => b.Status.LastScheduleTime = due, ct);
        }

        var scheduled = ofBuilder.Where(r => r.Metadata.Labels?.TryGetValue(AutoBuilds.ScheduledByLabel, out var by) == true && by == builder.Name());
        foreach (var old in AutoBuilds.Prunable(scheduled, auto))
        {
            await runApi.DeleteAsync(old.Namespace(), old.Name(), ct);
        }

        return times.Next - now + TimeSpan.FromMilliseconds(50);
    }

    private static BuildRun ScheduledRun(GentooBuilder builder, AutoBuild auto, DateTime due) => new()
    {
        Metadata = new V1ObjectMeta
        {
            Name = AutoBuilds.RunName(builder.Name(), due),
            NamespaceProperty = builder.Namespace(),
            Labels = new Dictionary<string, string> { [AutoBuilds.ScheduledByLabel] = builder.Name(), [DesiredVolumes.ManagedByLabel] = DesiredVolumes.ManagedBy },
            Annotations = new Dictionary<string, string> { [GroupVersion.Group + "/scheduled-at"] = due.ToString("O") },
            OwnerReferences = [DesiredVolumes.OwnedBy(builder)],
        },
        Spec = new BuildRunSpec
        {
            BuilderRef = new LocalReference { Name = builder.Name() },
            Packages = auto.Packages is { Count: > 0 } packages ? [.. packages] : ["@world"],
            EmergeArgs = auto.EmergeArgs is { Count: > 0 } args ? [.. args] : null,
            Sync = auto.Sync ?? true,
        },
    };

    /// <summary>
    /// Snapshots the root after a new successful build (snapshots.onSuccess) or on request (the snapshot annotation),
    /// then keeps the newest snapshots.keep of those the operator made of this builder; others are never touched.
    /// </summary>
    private async Task<TimeSpan?> SnapshotsAsync(GentooBuilder builder, BuildRun? newSuccess, DateTime now, CancellationToken ct)
    {
        var token = builder.Metadata.Annotations?.TryGetValue(RequestAnnotations.Snapshot, out var t) == true && t != builder.Status.LastHandledSnapshot ? t : null;
        var onSuccess = builder.Spec.Snapshots?.OnSuccess == true && newSuccess is not null;
        var waiting = builder.Status.Snapshots?.Any(s => s.ReadyToUse != true) == true;
        if (!onSuccess && token is null && !waiting)
        {
            return null;
        }

        var ns = builder.Namespace();
        if (onSuccess || token is not null)
        {
            var root = DesiredVolumes.RootName(builder.Name());
            var claim = claims.Get(new ObjectKey(ns, root)) ?? await kube.CoreV1.ReadNamespacedPersistentVolumeClaimAsync(root, ns, cancellationToken: ct);
            var choice = await SnapshotSupport.DiscoverAsync(kube, builder.Spec.Storage?.VolumeSnapshotClassName, claim, ct);
            var name = token is not null
                ? DesiredAgentPod.Name(builder.Name(), "snapshot-" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(token)))[..8])
                : DesiredAgentPod.Name(newSuccess!.Name(), "root");
            if (choice.CanSnapshot)
            {
                var labels = new Dictionary<string, string> { [DesiredVolumes.BuilderLabel] = builder.Name() };
                if (token is null)
                {
                    labels[DesiredBuildPod.BuildRunLabel] = newSuccess!.Name();
                }

                await CoreWrites.CreateIfMissingAsync(() => snapshots.CreateAsync(DesiredSnapshots.Of(root, name, ns, choice.ClassName!, labels), ct));
                await events.RecordAsync(builder, "Normal", "SnapshotTaken", $"VolumeSnapshot {name} of {root} requested", ct);
            }
            else
            {
                await events.RecordAsync(builder, "Warning", "SnapshotUnavailable", choice.Explanation.Replace("the root volume is copied instead", "no snapshot taken", StringComparison.Ordinal), ct);
            }
        }

        var ours = (await snapshots.ListAsync(ns, ct)).Items
            .Where(s => s.Metadata.Labels?.TryGetValue(DesiredVolumes.ManagedByLabel, out var by) == true && by == DesiredVolumes.ManagedBy
                        && s.Metadata.Labels.TryGetValue(DesiredVolumes.BuilderLabel, out var of) && of == builder.Name() && s.Metadata.DeletionTimestamp is null)
            .OrderByDescending(s => s.Metadata.CreationTimestamp).ThenByDescending(s => s.Metadata.Name, StringComparer.Ordinal)
            .ToList();
        var keep = builder.Spec.Snapshots?.Keep ?? 3;
        foreach (var old in ours.Skip(keep))
        {
            await snapshots.DeleteAsync(ns, old.Name(), ct);
            log.LogInformation("GentooBuilder {Namespace}/{Name}: pruned snapshot {Snapshot} (keeping {Keep})", ns, builder.Name(), old.Name(), keep);
        }

        var kept = ours.Take(keep).Select(s => new BuilderSnapshot
        {
            Name = s.Name(),
            BuildRun = s.Metadata.Labels.TryGetValue(DesiredBuildPod.BuildRunLabel, out var run) ? run : null,
            CreationTime = s.Status?.CreationTime ?? s.Metadata.CreationTimestamp,
            ReadyToUse = s.Status?.ReadyToUse ?? false,
        }).ToList();
        await status.UpdateAsync(builder, b =>
        {
            b.Status.Snapshots = kept;
            b.Status.LastHandledSnapshot = token ?? b.Status.LastHandledSnapshot;
        }, ct);
        return kept.Any(s => s.ReadyToUse != true) ? poll : null;
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

    private async Task NotReadyAsync(GentooBuilder builder, string reason, string message, DateTime now, CancellationToken ct, bool stalled = false) =>
        await status.UpdateAsync(builder, b =>
        {
            b.Status.Phase = "Pending";
            b.Status.ObservedGeneration = b.Metadata.Generation;
            b.Status.Conditions = stalled
                ? Conditions.MarkTrue(Conditions.Remove(b.Status.Conditions, ConditionTypes.Reconciling), ConditionTypes.Stalled, reason, message, b.Metadata.Generation, now)
                : Conditions.MarkTrue(Conditions.Remove(b.Status.Conditions, ConditionTypes.Stalled), ConditionTypes.Reconciling, reason, message, b.Metadata.Generation, now);
            b.Status.Conditions = Conditions.MarkFalse(b.Status.Conditions, ConditionTypes.Ready, reason, message, b.Metadata.Generation, now);
        }, ct);
}
