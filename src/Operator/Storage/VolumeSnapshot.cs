using k8s;
using k8s.Models;

namespace Gentoo.Operator.Storage;

/// <summary>
/// The parts of snapshot.storage.k8s.io/v1 VolumeSnapshot the operator reads and writes. The kind is an add-on
/// (the external-snapshotter's CRDs), so KubernetesClient has no model of it.
/// </summary>
[KubernetesEntity(Group = Group, ApiVersion = "v1", Kind = "VolumeSnapshot", PluralName = "volumesnapshots")]
public sealed class VolumeSnapshot : IKubernetesObject<V1ObjectMeta>, ISpec<VolumeSnapshotSpec>, IStatus<VolumeSnapshotStatus>
{
    public const string Group = "snapshot.storage.k8s.io";

    public string ApiVersion { get; set; } = Group + "/v1";

    public string Kind { get; set; } = "VolumeSnapshot";

    public V1ObjectMeta Metadata { get; set; } = new();

    public VolumeSnapshotSpec Spec { get; set; } = new();

    public VolumeSnapshotStatus Status { get; set; } = new();
}

public sealed class VolumeSnapshotSpec
{
    public VolumeSnapshotSource Source { get; set; } = new();

    public string? VolumeSnapshotClassName { get; set; }
}

public sealed class VolumeSnapshotSource
{
    public string? PersistentVolumeClaimName { get; set; }

    public string? VolumeSnapshotContentName { get; set; }
}

public sealed class VolumeSnapshotStatus
{
    public string? BoundVolumeSnapshotContentName { get; set; }

    public DateTime? CreationTime { get; set; }

    public bool? ReadyToUse { get; set; }

    public string? RestoreSize { get; set; }

    public VolumeSnapshotError? Error { get; set; }
}

public sealed class VolumeSnapshotError
{
    public string? Message { get; set; }

    public DateTime? Time { get; set; }
}

/// <summary>snapshot.storage.k8s.io/v1 VolumeSnapshotClass (cluster-scoped): which CSI driver it snapshots with.</summary>
[KubernetesEntity(Group = VolumeSnapshot.Group, ApiVersion = "v1", Kind = "VolumeSnapshotClass", PluralName = "volumesnapshotclasses")]
public sealed class VolumeSnapshotClass : IKubernetesObject<V1ObjectMeta>
{
    public const string DefaultAnnotation = "snapshot.storage.kubernetes.io/is-default-class";

    public string ApiVersion { get; set; } = VolumeSnapshot.Group + "/v1";

    public string Kind { get; set; } = "VolumeSnapshotClass";

    public V1ObjectMeta Metadata { get; set; } = new();

    public string Driver { get; set; } = "";

    public string? DeletionPolicy { get; set; }
}
