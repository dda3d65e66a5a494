using Gentoo.Entities.V1Alpha1;
using Gentoo.Operator.Storage;
using k8s.Models;

namespace Gentoo.Operator.Desired;

/// <summary>
/// VolumeSnapshots the operator takes. They carry no owner reference: a snapshot outlives the bootstrap or builder it
/// was taken of, so that nothing built is lost with a deletion. The managed-by label marks them as ours for pruning.
/// </summary>
public static class DesiredSnapshots
{
    public static VolumeSnapshot Of(string claim, string name, string ns, string snapshotClass, Dictionary<string, string> labels)
    {
        labels[ObjectLabels.ManagedBy] = ObjectLabels.ManagedByOperator;
        return new VolumeSnapshot
        {
            Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = ns, Labels = labels },
            Spec = new VolumeSnapshotSpec { Source = new VolumeSnapshotSource { PersistentVolumeClaimName = claim }, VolumeSnapshotClassName = snapshotClass },
        };
    }
}
