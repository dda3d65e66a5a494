using Gentoo.Runtime;
using k8s;
using k8s.Models;

namespace Gentoo.Operator.Storage;

/// <summary>Whether a volume can be snapshotted: with which VolumeSnapshotClass, or why not (then it is copied instead).</summary>
public sealed record SnapshotChoice(string? ClassName, string Explanation)
{
    public bool CanSnapshot => ClassName is not null;
}

/// <summary>
/// Decides how a root volume is preserved. A VolumeSnapshot needs the snapshot API and a VolumeSnapshotClass whose
/// driver provisions the volume's StorageClass (k3s's local-path has none); otherwise the volume is kept and copied.
/// </summary>
public static class SnapshotSupport
{
    public const string DefaultStorageClassAnnotation = "storageclass.kubernetes.io/is-default-class";

    public static SnapshotChoice Choose(string? requestedClass, string? storageClass, string? provisioner, IReadOnlyList<VolumeSnapshotClass> classes)
    {
        if (!string.IsNullOrEmpty(requestedClass))
        {
            return classes.Any(c => c.Metadata.Name == requestedClass)
                ? new SnapshotChoice(requestedClass, $"VolumeSnapshot with class {requestedClass}")
                : new SnapshotChoice(null, $"VolumeSnapshotClass {requestedClass} does not exist; the root volume is copied instead");
        }

        if (provisioner is null)
        {
            return new SnapshotChoice(null, $"the root volume's StorageClass {storageClass ?? "(default)"} was not found; the root volume is copied instead");
        }

        var matching = classes.Where(c => c.Driver == provisioner).OrderByDescending(IsDefault).ThenBy(c => c.Metadata.Name, StringComparer.Ordinal).FirstOrDefault();
        return matching is null
            ? new SnapshotChoice(null, $"no VolumeSnapshotClass for provisioner {provisioner} (StorageClass {storageClass}); the root volume is copied instead")
            : new SnapshotChoice(matching.Metadata.Name, $"VolumeSnapshot with class {matching.Metadata.Name} (driver {provisioner})");
    }

    /// <summary>Looks at what the cluster offers for <paramref name="claim"/>'s storage.</summary>
    public static async Task<SnapshotChoice> DiscoverAsync(IKubernetes kube, string? requestedClass, V1PersistentVolumeClaim claim, CancellationToken ct)
    {
        if (!await ApiDiscovery.ServesAsync(kube, VolumeSnapshot.Group, "v1", ct))
        {
            return new SnapshotChoice(null, "the cluster serves no snapshot.storage.k8s.io/v1 API; the root volume is copied instead");
        }

        var classes = (await new ResourceApi<VolumeSnapshotClass>(kube).ListAsync(null, ct)).Items.ToList();
        var name = claim.Spec?.StorageClassName;
        V1StorageClass? storage;
        if (string.IsNullOrEmpty(name))
        {
            var all = await kube.StorageV1.ListStorageClassAsync(cancellationToken: ct);
            storage = all.Items.FirstOrDefault(c => c.Metadata.Annotations?.TryGetValue(DefaultStorageClassAnnotation, out var v) == true && v == "true");
        }
        else
        {
            storage = await CoreWrites.ReadOrNullAsync(() => kube.StorageV1.ReadStorageClassAsync(name, cancellationToken: ct));
        }

        return Choose(requestedClass, storage?.Metadata.Name ?? name, storage?.Provisioner, classes);
    }

    private static bool IsDefault(VolumeSnapshotClass c) => c.Metadata.Annotations?.TryGetValue(VolumeSnapshotClass.DefaultAnnotation, out var v) == true && v == "true";
}
