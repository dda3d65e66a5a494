using k8s.Models;

namespace Gentoo.Local;

/// <summary>How a container sees one of its pod's volumes.</summary>
public enum MountKind
{
    /// <summary>A named Docker volume: a claim's.</summary>
    Volume,

    /// <summary>A directory of this machine: a hostPath, a pod's scratch space (emptyDir), or the files of a ConfigMap or Secret written for the pod.</summary>
    Bind,
}

public sealed record ContainerMount(MountKind Kind, string Source, string Target, bool ReadOnly);

/// <summary>
/// A file a ConfigMap or Secret volume puts into the pod, written on this machine before its containers start; a
/// container's termination message file is made once and never emptied again, since a restart must still read it.
/// </summary>
public sealed record PodFile(string Path, byte[] Content, UnixFileMode Mode, bool KeepExisting = false);

/// <summary>One container of a pod as the Docker engine is asked to create it.</summary>
public sealed record ContainerPlan(
    string PodContainer,
    string Name,
    string Image,
    IReadOnlyList<string>? Entrypoint,
    IReadOnlyList<string>? Command,
    IReadOnlyList<string> Environment,
    string? WorkingDirectory,
    IReadOnlyList<ContainerMount> Mounts,
    bool Privileged,
    IReadOnlyList<string> AddCapabilities,
    IReadOnlyList<string> DropCapabilities,
    string? User,
    long? NanoCpus,
    long? MemoryBytes,
    string TerminationMessagePath,
    bool FallbackToLogsOnError,
    IReadOnlyDictionary<string, string> Labels,
    IReadOnlyList<PublishedPort> Ports);

/// <summary>A port of this machine (address and port) forwarded to a container's port, as a LoadBalancer Service asks.</summary>
public sealed record PublishedPort(string HostAddress, int HostPort, int ContainerPort, string Protocol);

/// <summary>The LoadBalancer Services of a pod's namespace, published on <paramref name="Address"/> of this machine.</summary>
public sealed record ServiceExposure(IReadOnlyList<V1Service> Services, string Address);

/// <summary>
/// What running a pod on this machine takes: the claims' Docker volumes, the pod's scratch directories, the files of its
/// ConfigMap and Secret volumes, its init containers (run one after the other) and its containers.
/// </summary>
/// <param name="ClaimVolumes">The Docker volumes the pod's claims are bound to: they must exist before its containers are made.</param>
public sealed record PodPlan(
    IReadOnlyList<string> ClaimVolumes,
    IReadOnlyList<string> ScratchDirectories,
    IReadOnlyList<PodFile> Files,
    IReadOnlyList<ContainerPlan> InitContainers,
    IReadOnlyList<ContainerPlan> Containers);

/// <summary>Why a pod cannot be started as it is: the kubelet's reason (CreateContainerConfigError, ...) and a message.</summary>
public sealed class PodPlanException(string reason, string message) : Exception(message)
{
    public string Reason { get; } = reason;
}
