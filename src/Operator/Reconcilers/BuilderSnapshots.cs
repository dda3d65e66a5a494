using Gentoo.Entities.V1Alpha1;
using Gentoo.Operator.Decisions;
using Gentoo.Operator.Desired;
using Gentoo.Runtime;
using Gentoo.Operator.Storage;
using k8s;
using k8s.Models;
using Microsoft.Extensions.Logging;

namespace Gentoo.Operator.Reconcilers;

/// <summary>Snapshots of a builder's root after successful builds or on request, pruned to the newest the operator took.</summary>
public sealed class BuilderSnapshots(IKubernetes kube, ICache<V1PersistentVolumeClaim> claims, EventRecorder events, ILogger log, TimeSpan poll)
{
    private readonly ResourceApi<VolumeSnapshot> snapshots = new(kube);

    /// <summary>
    /// Snapshots the root after a new successful build (snapshots.onSuccess) or on request (the snapshot annotation),
    /// then keeps the newest snapshots.keep of those the operator made of this builder; others are never touched.
    /// </summary>
    public async Task<TimeSpan?> RunAsync(GentooBuilder builder, BuildRun? newSuccess, StatusChanges<GentooBuilder> changes, DateTime now, CancellationToken ct)
    {
        var token = RequestTokens.New(builder, RequestAnnotations.Snapshot, builder.Status.LastHandledSnapshot);
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
                ? DesiredAgentPod.Name(builder.Name(), "snapshot-" + Digest.Of(token, 8))
                : DesiredAgentPod.Name(newSuccess!.Name(), "root");
            if (choice.CanSnapshot)
            {
                var labels = new Dictionary<string, string> { [ObjectLabels.Builder] = builder.Name() };
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
            .Where(s => s.Metadata.Labels?.TryGetValue(ObjectLabels.ManagedBy, out var by) == true && by == ObjectLabels.ManagedByOperator
                        && s.Metadata.Labels.TryGetValue(ObjectLabels.Builder, out var of) && of == builder.Name() && s.Metadata.DeletionTimestamp is null)
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
        changes.Add(b =>
        {
            b.Status.Snapshots = kept;
            b.Status.LastHandledSnapshot = token ?? b.Status.LastHandledSnapshot;
        });
        return kept.Any(s => s.ReadyToUse != true) ? poll : null;
    }
}
