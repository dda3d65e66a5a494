using Gentoo.Entities.V1Alpha1;
using k8s;
using k8s.Models;

namespace Gentoo.Operator.Desired;

/// <summary>Where a builder's root volume comes from: a VolumeSnapshot to restore, or (without snapshots) a PVC to copy.</summary>
public sealed record RootSource(string Kind, string Name)
{
    public static RootSource Snapshot(string name) => new("VolumeSnapshot", name);

    public static RootSource CopyOf(string persistentVolumeClaim) => new("PersistentVolumeClaim", persistentVolumeClaim);
}

/// <summary>
/// The PersistentVolumeClaims of bootstraps and builders. Root and source-archive volumes belong to their owner and
/// go with it; the binary package volume belongs to its builder only under retainPolicy Delete, so by default it
/// survives the builder's deletion with everything that was built.
/// </summary>
public static class DesiredVolumes
{
    /// <summary>A builder's root volume.</summary>
    public static string RootName(string builder) => builder + "-root";

    /// <summary>
    /// A bootstrap's root volume: named apart from a builder's, since the two are often named alike (the samples do),
    /// and a bootstrap made before the names parted keeps the volume its status records.
    /// </summary>
    public static string BootstrapRootName(GentooBootstrap bootstrap) => bootstrap.Status?.RootVolume ?? bootstrap.Name() + "-bootstrap-root";

    public static string BinpkgsName(string builder) => builder + "-binpkgs";

    public static string DistfilesName(string builder) => builder + "-distfiles";

    public static V1PersistentVolumeClaim BootstrapRoot(GentooBootstrap bootstrap)
    {
        var storage = bootstrap.Spec.Storage;
        return Claim(BootstrapRootName(bootstrap), bootstrap.Namespace(), storage?.Size ?? "60Gi", storage?.StorageClassName,
            new Dictionary<string, string> { [ObjectLabels.Bootstrap] = bootstrap.Name(), [ObjectLabels.Volume] = "root" }, OwnedBy(bootstrap), dataSource: null);
    }

    public static IReadOnlyList<V1PersistentVolumeClaim> Builder(GentooBuilder builder, RootSource root)
    {
        var storage = builder.Spec.Storage;
        var labels = (string volume) => new Dictionary<string, string> { [ObjectLabels.Builder] = builder.Name(), [ObjectLabels.Volume] = volume };
        var retained = storage?.Binpkgs?.RetainPolicy != RetainPolicy.Delete;
        return
        [
            Claim(RootName(builder.Name()), builder.Namespace(), storage?.Root?.Size ?? "60Gi", storage?.Root?.StorageClassName, labels("root"), OwnedBy(builder),
                // A copy starts empty and is filled by the copy pod: the storage that cannot snapshot cannot clone either.
                root.Kind == "VolumeSnapshot" ? new V1TypedLocalObjectReference { ApiGroup = "snapshot.storage.k8s.io", Kind = root.Kind, Name = root.Name } : null),
            Claim(BinpkgsName(builder.Name()), builder.Namespace(), storage?.Binpkgs?.Size ?? "50Gi", storage?.Binpkgs?.StorageClassName, labels("binpkgs"),
                retained ? null : OwnedBy(builder), dataSource: null, (storage?.Binpkgs?.AccessMode ?? VolumeAccessMode.ReadWriteOnce).ToString()),
            Claim(DistfilesName(builder.Name()), builder.Namespace(), storage?.Distfiles?.Size ?? "20Gi", storage?.Distfiles?.StorageClassName, labels("distfiles"),
                OwnedBy(builder), dataSource: null),
        ];
    }

    /// <summary>An owner reference that makes <paramref name="owner"/> the controller (garbage collection follows it).</summary>
    public static V1OwnerReference OwnedBy(IKubernetesObject<V1ObjectMeta> owner) => new()
    {
        ApiVersion = owner.ApiVersion,
        Kind = owner.Kind,
        Name = owner.Name(),
        Uid = owner.Uid(),
        Controller = true,
        BlockOwnerDeletion = true,
    };

    private static V1PersistentVolumeClaim Claim(
        string name, string ns, string size, string? storageClass, Dictionary<string, string> labels, V1OwnerReference? owner, V1TypedLocalObjectReference? dataSource,
        string accessMode = nameof(VolumeAccessMode.ReadWriteOnce))
    {
        labels[ObjectLabels.ManagedBy] = ObjectLabels.ManagedByOperator;
        return new V1PersistentVolumeClaim
        {
            ApiVersion = "v1",
            Kind = "PersistentVolumeClaim",
            Metadata = new V1ObjectMeta
            {
                Name = name,
                NamespaceProperty = ns,
                Labels = labels,
                OwnerReferences = owner is null ? null : [owner],
            },
            Spec = new V1PersistentVolumeClaimSpec
            {
                AccessModes = [accessMode],
                StorageClassName = string.IsNullOrEmpty(storageClass) ? null : storageClass,
                Resources = new V1VolumeResourceRequirements { Requests = new Dictionary<string, ResourceQuantity> { ["storage"] = new(size) } },
                DataSource = dataSource,
            },
        };
    }
}
