using Gentoo.Entities.V1Alpha1;
using Gentoo.Operator.Decisions;
using Gentoo.Operator.Desired;
using Gentoo.Runtime;
using k8s;
using k8s.Models;

namespace Gentoo.Operator.Reconcilers;

/// <summary>A builder's BuildRuns made for it: rebuild requests now, and the autoBuild schedule like a CronJob.</summary>
public sealed class BuilderSchedule(IKubernetes kube, EventRecorder events)
{
    private readonly ResourceApi<BuildRun> runApi = new(kube);

    /// <summary>Creates the due scheduled BuildRun (unless one is open: no overlap), prunes the history; returns when the next is due.</summary>
    public async Task<TimeSpan?> RunAsync(
        GentooBuilder builder, IReadOnlyList<BuildRun> ofBuilder, BuildRun? holder, StatusChanges<GentooBuilder> changes, DateTime now, CancellationToken ct)
    {
        if (RequestTokens.New(builder, RequestAnnotations.Rebuild, builder.Status.LastHandledRebuild) is { } rebuild)
        {
            // A rebuild now: the autoBuild packages (or @world), queued behind any open run like every other.
            var id = Digest.Of(rebuild, 8);
            var run = ScheduledRun(builder, builder.Spec.AutoBuild ?? new AutoBuild(), now);
            run.Metadata.Name = DesiredAgentPod.Name(builder.Name(), "rebuild-" + id);
            run.Metadata.Labels.Remove(AutoBuilds.ScheduledByLabel);
            run.Metadata.Annotations = new Dictionary<string, string> { [RequestAnnotations.Rebuild] = rebuild };
            await CoreWrites.CreateIfMissingAsync(() => runApi.CreateAsync(run, ct));
            changes.Add(b => b.Status.LastHandledRebuild = rebuild);
            await events.RecordAsync(builder, "Normal", "Rebuild", $"BuildRun {run.Metadata.Name} created on request", ct);
        }

        if (builder.Spec.AutoBuild is not { } auto)
        {
            return null;
        }

        if (!AutoBuilds.TryParse(auto, out var cron, out var zone, out _))
        {
            return null; // the builder is Stalled on it (AutoBuilds.Problem)
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

            changes.Add(b => b.Status.LastScheduleTime = due);
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
            Labels = new Dictionary<string, string> { [AutoBuilds.ScheduledByLabel] = builder.Name(), [ObjectLabels.ManagedBy] = ObjectLabels.ManagedByOperator },
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
}
