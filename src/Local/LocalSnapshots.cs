using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.Json.Nodes;
using Docker.DotNet;
using Docker.DotNet.Models;
using Gentoo.Runtime;
using k8s;
using k8s.Models;
using Microsoft.Extensions.Logging;

namespace Gentoo.Local;

/// <summary>
/// Storage as a CSI driver with snapshots offers it, for one machine: a default StorageClass and a VolumeSnapshotClass of
/// the same driver (so the operator snapshots instead of copying), a VolumeSnapshot as a copy of its claim's Docker volume,
/// and a claim whose dataSource is a snapshot filled from that copy before it is bound. Copies run in a helper
/// container, one per volume, in the background.
/// </summary>
public sealed class LocalSnapshots(IKubernetes kube, IDockerClient docker, DockerKubeletOptions options, string helperImage, TimeProvider clock, ILogger log)
{
    public const string Driver = "docker.gentoo-builder.io";
    public const string ClassName = "local-docker";
    private const string Group = "snapshot.storage.k8s.io";
    private const string DefaultClassAnnotation = "storageclass.kubernetes.io/is-default-class";
    private const string SnapshotDefaultClassAnnotation = "snapshot.storage.kubernetes.io/is-default-class";

    /// <summary>Copies in flight or done, by the uid of the snapshot or claim they are for.</summary>
    private readonly ConcurrentDictionary<string, Task> copies = new(StringComparer.Ordinal);
    /// <summary>The snapshots seen on the previous pass, by namespace and name.</summary>
    private Dictionary<(string Namespace, string Name), SeenSnapshot> knownSnapshots = [];
    private bool snapshotsListed;

    private readonly record struct SeenSnapshot(string Uid, bool Ready);

    /// <summary>
    /// The snapshot's Docker volume: by its uid, so that neither another local instance sharing the Docker engine nor a
    /// snapshot made earlier under the same name (its volume left behind while local mode was down) is ever copied into.
    /// </summary>
    public static string SnapshotVolume(string uid) => $"{LocalNames.Prefix}.snapshot.{uid}";

    /// <summary>Where local mode 0.1 kept a snapshot, by namespace and name: still restored from, never written.</summary>
    private static string NamedSnapshotVolume(string ns, string snapshot) => $"{LocalNames.Prefix}.snapshot.{ns}.{snapshot}";

    /// <summary>The StorageClass and VolumeSnapshotClass this machine offers, made once.</summary>
    public async Task EnsureClassesAsync(CancellationToken ct)
    {
        await CoreWrites.CreateIfMissingAsync(() => kube.StorageV1.CreateStorageClassAsync(new V1StorageClass
        {
            Metadata = new V1ObjectMeta { Name = ClassName, Annotations = new Dictionary<string, string> { [DefaultClassAnnotation] = "true" } },
            Provisioner = Driver,
            ReclaimPolicy = "Delete",
            VolumeBindingMode = "Immediate",
        }, cancellationToken: ct));
        await CoreWrites.CreateIfMissingAsync(() => kube.CustomObjects.CreateClusterCustomObjectAsync(new JsonObject
        {
            ["apiVersion"] = Group + "/v1",
            ["kind"] = "VolumeSnapshotClass",
            ["metadata"] = new JsonObject { ["name"] = ClassName, ["annotations"] = new JsonObject { [SnapshotDefaultClassAnnotation] = "true" } },
            ["driver"] = Driver,
            ["deletionPolicy"] = "Delete",
        }, Group, "v1", "volumesnapshotclasses", cancellationToken: ct));
    }

    /// <summary>Takes the snapshots not yet taken and removes the volumes of snapshots deleted since the last pass.</summary>
    public async Task SnapshotAsync(CancellationToken ct)
    {
        var list = (JsonElement)await kube.CustomObjects.ListClusterCustomObjectAsync(Group, "v1", "volumesnapshots", cancellationToken: ct);
        var items = list.GetProperty("items").EnumerateArray().ToList();
        var current = items.ToDictionary(
            s => (s.GetProperty("metadata").GetProperty("namespace").GetString()!, s.GetProperty("metadata").GetProperty("name").GetString()!),
            s => new SeenSnapshot(s.GetProperty("metadata").GetProperty("uid").GetString()!,
                s.TryGetProperty("status", out var status) && status.TryGetProperty("readyToUse", out var r) && r.ValueKind == JsonValueKind.True));

        // A snapshot gone, or replaced by a new one of its name, takes its copy with it.
        if (snapshotsListed)
        {
            foreach (var ((ns, name), seen) in knownSnapshots.Where(k => !current.TryGetValue(k.Key, out var now) || now.Uid != k.Value.Uid))
            {
                await RemoveVolumeAsync(SnapshotVolume(seen.Uid), $"VolumeSnapshot {ns}/{name} was deleted", ct);
                await RemoveVolumeAsync(NamedSnapshotVolume(ns, name), $"VolumeSnapshot {ns}/{name} was deleted", ct);
            }
        }

        (knownSnapshots, snapshotsListed) = (current, true);
        foreach (var snapshot in items)
        {
            var metadata = snapshot.GetProperty("metadata");
            var ns = metadata.GetProperty("namespace").GetString()!;
            var name = metadata.GetProperty("name").GetString()!;
            if (current[(ns, name)].Ready || metadata.TryGetProperty("deletionTimestamp", out _)
                || !snapshot.GetProperty("spec").GetProperty("source").TryGetProperty("persistentVolumeClaimName", out var claimName))
            {
                continue;
            }

            var uid = metadata.GetProperty("uid").GetString()!;
            if (copies.TryGetValue(uid, out var copying) && !copying.IsFaulted)
            {
                continue;
            }

            // As the snapshotter: a claim not bound yet has no volume to take a snapshot of; it is looked at again.
            var claim = await CoreWrites.ReadOrNullAsync(() => kube.CoreV1.ReadNamespacedPersistentVolumeClaimAsync(claimName.GetString(), ns, cancellationToken: ct));
            if (claim?.Spec?.VolumeName is not { Length: > 0 } source || claim.Status?.Phase != "Bound")
            {
                continue;
            }

            var target = SnapshotVolume(uid);
            StartCopy(uid, [source], target, fresh: true, new Dictionary<string, string>
            {
                [LocalNames.ManagedLabel] = "true",
                [LocalNames.NamespaceLabel] = ns,
                [LocalNames.NodeLabel] = options.NodeName,
            }, async copyCt =>
            {
                var size = claim.Spec.Resources?.Requests?["storage"]?.ToString();
                var patch = new JsonObject
                {
                    ["status"] = new JsonObject
                    {
                        ["readyToUse"] = true,
                        ["boundVolumeSnapshotContentName"] = "snapcontent-" + uid,
                        ["creationTime"] = JsonNodes.Time(clock.GetUtcNow().UtcDateTime),
                        ["restoreSize"] = size,
                    },
                }.ToJsonString();
                await kube.CustomObjects.PatchNamespacedCustomObjectStatusAsync(new V1Patch(patch, V1Patch.PatchType.MergePatch), Group, "v1", ns, "volumesnapshots", name, cancellationToken: copyCt);
                log.LogInformation("VolumeSnapshot {Namespace}/{Name}: claim {Claim} copied into Docker volume {Volume}", ns, name, claimName.GetString(), target);
            }, ct);
        }
    }

    /// <summary>Whether a new claim's volume is ready to bind: filled from its snapshot, or having none to fill from.</summary>
    public bool Restored(V1PersistentVolumeClaim claim, string volume, IDictionary<string, string> labels, CancellationToken ct)
    {
        var source = claim.Spec.DataSourceRef?.Kind == "VolumeSnapshot" ? claim.Spec.DataSourceRef.Name
            : claim.Spec.DataSource?.Kind == "VolumeSnapshot" ? claim.Spec.DataSource.Name
            : null;
        if (source is null)
        {
            return true;
        }

        // By the claim's uid: a claim re-created under its name is filled again.
        if (copies.TryGetValue(claim.Metadata.Uid, out var done) && done.IsCompletedSuccessfully)
        {
            return true;
        }

        // As a CSI provisioner, from a snapshot that is ready to use, never from one half taken.
        var ns = claim.Metadata.NamespaceProperty;
        if (!knownSnapshots.TryGetValue((ns, source), out var snapshot) || !snapshot.Ready)
        {
            return false;
        }

        StartCopy(claim.Metadata.Uid, [SnapshotVolume(snapshot.Uid), NamedSnapshotVolume(ns, source)], volume, fresh: false, labels, _ => Task.CompletedTask, ct);
        return false;
    }

    /// <param name="key">The uid of the snapshot or claim the copy is for: one copy each, again after a failure.</param>
    /// <param name="sources">Where the data may be, the first volume there being copied.</param>
    /// <param name="fresh">Whether the target starts empty: a copy tried again never lands on a failed one's leftovers.</param>
    private void StartCopy(string key, IReadOnlyList<string> sources, string target, bool fresh, IDictionary<string, string> labels,
        Func<CancellationToken, Task> then, CancellationToken ct)
    {
        if (copies.TryGetValue(key, out var running) && !running.IsFaulted)
        {
            return;
        }

        copies[key] = Task.Run(async () =>
        {
            try
            {
                await CopyAsync(sources, target, fresh, labels, ct);
                await then(ct);
            }
            catch (Exception e) when (!ct.IsCancellationRequested)
            {
                log.LogWarning("Copying Docker volume {Source} into {Target} failed: {Message}; trying again", sources[0], target, e.Message);
                throw;
            }
        }, CancellationToken.None);
    }

    /// <summary>cp -a from one volume into another, in a container of the helper image; an exit other than 0 throws.</summary>
    private async Task CopyAsync(IReadOnlyList<string> sources, string target, bool fresh, IDictionary<string, string> labels, CancellationToken ct)
    {
        // Docker would make a missing source as an empty volume, and the copy would "succeed" with nothing in it.
        string? source = null;
        foreach (var candidate in sources)
        {
            if (await LocalVolumes.InspectOrNullAsync(docker, candidate, ct) is not null)
            {
                source = candidate;
                break;
            }
        }

        if (source is null)
        {
            throw new IOException($"Docker volume {sources[0]} is missing: nothing to copy");
        }

        if (fresh)
        {
            await RemoveVolumeAsync(target, "a failed copy's leftovers", ct);
        }

        await docker.Volumes.CreateAsync(new VolumesCreateParameters { Name = target, Labels = labels }, ct);
        var created = await docker.Containers.CreateContainerAsync(new CreateContainerParameters
        {
            Image = helperImage,
            Entrypoint = ["cp", "-a", "/from/.", "/to/"],
            Cmd = [],
            User = "0",
            Labels = new Dictionary<string, string>(labels),
            HostConfig = new HostConfig
            {
                Mounts =
                [
                    new Mount { Type = "volume", Source = source, Target = "/from", ReadOnly = true },
                    new Mount { Type = "volume", Source = target, Target = "/to" },
                ],
            },
        }, ct);
        try
        {
            await docker.Containers.StartContainerAsync(created.ID, new ContainerStartParameters(), ct);
            var waited = await docker.Containers.WaitContainerAsync(created.ID, ct);
            if (waited.StatusCode != 0)
            {
                throw new IOException($"cp -a ended with {waited.StatusCode}");
            }
        }
        finally
        {
            await docker.Containers.RemoveContainerAsync(created.ID, new ContainerRemoveParameters { Force = true }, CancellationToken.None);
        }
    }

    /// <summary>Removes a snapshot's volume made by this instance; another instance's, sharing the engine, is left alone.</summary>
    private async Task RemoveVolumeAsync(string volume, string why, CancellationToken ct)
    {
        if (!LocalVolumes.IsOf(await LocalVolumes.InspectOrNullAsync(docker, volume, ct), options.NodeName))
        {
            return;
        }

        try
        {
            await docker.Volumes.RemoveAsync(volume, force: false, ct);
            log.LogInformation("Docker volume {Volume} removed: {Why}", volume, why);
        }
        catch (DockerApiException e) when (e.StatusCode == System.Net.HttpStatusCode.NotFound)
        {
        }
    }
}
