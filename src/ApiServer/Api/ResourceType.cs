using Gentoo.ApiServer.Schema;

namespace Gentoo.ApiServer.Api;

/// <summary>One REST resource the server serves, built in or defined by a CustomResourceDefinition.</summary>
public sealed record ResourceType(
    string Group,
    string Version,
    string Plural,
    string Kind,
    bool Namespaced,
    bool StatusSubresource,
    bool TracksGeneration,
    CustomResourceSchema? Schema = null,
    // kubectl's short names and categories ("kubectl get svc", "kubectl get all"), as the real server's discovery lists them.
    IReadOnlyList<string>? ShortNames = null,
    IReadOnlyList<string>? Categories = null)
{
    public string Key => $"{Group}/{Plural}";

    public string ApiVersion => Group.Length == 0 ? Version : $"{Group}/{Version}";

    /// <summary>The "resource.group" name used in error messages, as the API server prints it.</summary>
    public string QualifiedName => Group.Length == 0 ? Plural : $"{Plural}.{Group}";

    public bool IsCustom => Schema is not null;

    public static IEnumerable<ResourceType> BuiltIn(bool volumeSnapshots)
    {
        yield return new("", "v1", "namespaces", "Namespace", false, true, false, ShortNames: ["ns"]);
        yield return new("", "v1", "nodes", "Node", false, true, false, ShortNames: ["no"]);
        yield return new("", "v1", "pods", "Pod", true, true, false, ShortNames: ["po"], Categories: ["all"]);
        yield return new("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", true, true, false, ShortNames: ["pvc"]);
        yield return new("", "v1", "configmaps", "ConfigMap", true, false, false, ShortNames: ["cm"]);
        yield return new("", "v1", "secrets", "Secret", true, false, false);
        yield return new("", "v1", "services", "Service", true, true, false, ShortNames: ["svc"], Categories: ["all"]);
        yield return new("", "v1", "serviceaccounts", "ServiceAccount", true, false, false, ShortNames: ["sa"]);
        yield return new("", "v1", "events", "Event", true, false, false, ShortNames: ["ev"]);
        yield return new("events.k8s.io", "v1", "events", "Event", true, false, false);
        yield return new("coordination.k8s.io", "v1", "leases", "Lease", true, false, false);
        yield return new("apps", "v1", "deployments", "Deployment", true, true, true, ShortNames: ["deploy"], Categories: ["all"]);
        yield return new("rbac.authorization.k8s.io", "v1", "roles", "Role", true, false, false);
        yield return new("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", true, false, false);
        yield return new("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", false, false, false);
        yield return new("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", false, false, false);
        yield return new("storage.k8s.io", "v1", "storageclasses", "StorageClass", false, false, false, ShortNames: ["sc"]);
        yield return new("apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition", false, true, true, ShortNames: ["crd", "crds"]);
        if (volumeSnapshots)
        {
            yield return new("snapshot.storage.k8s.io", "v1", "volumesnapshots", "VolumeSnapshot", true, true, true, ShortNames: ["vs"]);
            yield return new("snapshot.storage.k8s.io", "v1", "volumesnapshotclasses", "VolumeSnapshotClass", false, false, false, ShortNames: ["vsclass", "vsclasses"]);
        }
    }
}
