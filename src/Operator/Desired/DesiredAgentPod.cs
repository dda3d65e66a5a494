using System.Globalization;
using Gentoo.Entities.V1Alpha1;
using Gentoo.Portage.Kernels;
using Gentoo.Protocol;
using Gentoo.Runtime;
using k8s;
using k8s.Models;

namespace Gentoo.Operator.Desired;

/// <summary>What every agent pod shares: the operator's own image (which carries the agent) and how long emerge may take to stop.</summary>
public sealed record PodSettings(string OperatorImage)
{
    /// <summary>Emerge finishes its running ebuild phase after SIGTERM; the agent waits this long for it.</summary>
    public int AgentGracePeriodSeconds { get; init; } = 300;

    public int PodGracePeriodSeconds => AgentGracePeriodSeconds + 30;

    /// <summary>The binhost Service's type when a builder names none: ClusterIP on a cluster; local mode publishes a LoadBalancer's port on this machine.</summary>
    public string BinhostServiceType { get; init; } = "ClusterIP";
}

/// <summary>A volume of an agent pod and where the agent container sees it.</summary>
public sealed record PodVolume(string Name, string MountPath, V1Volume Source, bool ReadOnly = false)
{
    public static PodVolume Claim(string name, string mountPath, string claim, bool readOnly = false) =>
        new(name, mountPath, new V1Volume { Name = name, PersistentVolumeClaim = new V1PersistentVolumeClaimVolumeSource { ClaimName = claim, ReadOnlyProperty = readOnly ? true : null } }, readOnly);

    public static PodVolume ConfigMap(string name, string mountPath, string configMap) =>
        new(name, mountPath, new V1Volume { Name = name, ConfigMap = new V1ConfigMapVolumeSource { Name = configMap } }, ReadOnly: true);
}

/// <summary>Where and with what an agent pod runs: the image the agent starts in, its resources and its nodes.</summary>
/// <param name="GentooImage">
/// The Gentoo image (a stage3) whose own filesystem the step fills an empty root from: the agent is copied into it. Null
/// for steps on a root volume that already holds the system: the agent runs from the operator image, nothing copied.
/// </param>
public sealed record AgentPlacement(
    string? GentooImage,
    V1ResourceRequirements? Resources = null,
    IDictionary<string, string>? NodeSelector = null,
    IList<V1Toleration>? Tolerations = null,
    KernelVersion? RequiredKernel = null,
    V1SecurityContext? SecurityContext = null,
    string? PullPolicy = null,
    IReadOnlyList<GitConfigSource>? ConfigGit = null);

/// <summary>
/// A pod running one agent step in a Gentoo root (build, bootstrap, update, sync). The agent works in the root volume
/// through chroot, so where that volume already holds the system, the container is the operator image, which carries
/// the agent: one container to start, one image on the node. Only a step that fills an empty root from a Gentoo
/// image's own filesystem runs in that image, which holds nothing of ours: an init container copies the agent into a
/// shared volume first. Names are deterministic, so an operator restart finds the pod it started.
/// </summary>
public static class DesiredAgentPod
{
    private const string AgentVolume = "agent";
    private const string CopiedAgent = AgentPod.AgentDirectory + "/gentoo-agent";

    /// <summary>PREFIX-SUFFIX, shortened with a hash of the prefix when long, so that it is always a valid object name.</summary>
    public static string Name(string prefix, string suffix)
    {
        suffix = "-" + suffix;
        if (prefix.Length + suffix.Length <= 63)
        {
            return prefix + suffix;
        }

        var hash = Digest.Of(prefix, 8);
        return prefix[..(63 - suffix.Length - 9)].TrimEnd('-', '.') + "-" + hash + suffix;
    }

    /// <summary>The agent's arguments shared by every step: the root, CPUs for MAKEOPTS and the grace period.</summary>
    public static List<string> Arguments(AgentStep step, V1ResourceRequirements? resources, PodSettings settings, params string[] more)
    {
        var args = new List<string> { step.Name(), "--root", AgentPod.RootMount };
        args.AddRange(more);
        if (Cpus(resources) is { } cpus)
        {
            args.AddRange(["--cpus", cpus.ToString(CultureInfo.InvariantCulture)]);
        }

        args.AddRange(["--grace-period", settings.AgentGracePeriodSeconds.ToString(CultureInfo.InvariantCulture)]);
        return args;
    }

    public static V1Pod Build(
        string name, IKubernetesObject<V1ObjectMeta> owner, IDictionary<string, string> labels, AgentPlacement placement, IReadOnlyList<string> args,
        IReadOnlyList<PodVolume> volumes, PodSettings settings)
    {
        labels[ObjectLabels.ManagedBy] = ObjectLabels.ManagedByOperator;
        var git = placement.ConfigGit ?? [];
        if (git.Count > 0)
        {
            // The checkouts, applied by the agent after the ConfigMap keys in configFrom order.
            args = [.. args, .. git.SelectMany((source, i) => new[] { "--config-tree", DesiredGitConfig.TreePath(i, source) })];
            volumes = [.. volumes, new PodVolume(DesiredGitConfig.Volume, DesiredGitConfig.Mount, new V1Volume { Name = DesiredGitConfig.Volume, EmptyDir = new V1EmptyDirVolumeSource() }, ReadOnly: true)];
        }

        var copied = placement.GentooImage is not null;
        return new V1Pod
        {
            ApiVersion = "v1",
            Kind = "Pod",
            Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = owner.Namespace(), Labels = labels, OwnerReferences = [DesiredVolumes.OwnedBy(owner)] },
            Spec = new V1PodSpec
            {
                RestartPolicy = "Never",
                TerminationGracePeriodSeconds = settings.PodGracePeriodSeconds,
                EnableServiceLinks = false,
                AutomountServiceAccountToken = false,
                NodeSelector = placement.NodeSelector,
                Tolerations = placement.Tolerations,
                Affinity = placement.RequiredKernel is { } kernel
                    ? new V1Affinity { NodeAffinity = new V1NodeAffinity { RequiredDuringSchedulingIgnoredDuringExecution = NodeKernel.AtLeast(kernel) } }
                    : null,
                // The agent runs as root whatever the image's user (the operator image's is not); a securityContext that
                // names a user takes precedence, as Kubernetes gives the container's own context.
                SecurityContext = new V1PodSecurityContext { RunAsUser = 0 },
                InitContainers =
                [
                    .. copied ? [CopyAgent(settings.OperatorImage)] : Array.Empty<V1Container>(),
                    .. git.Count > 0 ? [DesiredGitConfig.CheckoutContainer(git, settings.OperatorImage)] : Array.Empty<V1Container>(),
                ],
                Containers =
                [
                    new V1Container
                    {
                        Name = AgentPod.Container,
                        Image = placement.GentooImage ?? settings.OperatorImage,
                        ImagePullPolicy = placement.GentooImage is null ? null : placement.PullPolicy,
                        Command = [copied ? CopiedAgent : AgentPod.AgentInImage],
                        Args = [.. args],
                        Env = [.. AgentPod.RuntimeEnvironment.OrderBy(v => v.Key, StringComparer.Ordinal).Select(v => new V1EnvVar { Name = v.Key, Value = v.Value })],
                        Resources = placement.Resources,
                        // Chroot with bind mounts needs these; a cluster that grants them otherwise may narrow it.
                        SecurityContext = placement.SecurityContext ?? new V1SecurityContext { Privileged = true, RunAsUser = 0 },
                        TerminationMessagePath = AgentPod.TerminationLog,
                        TerminationMessagePolicy = "FallbackToLogsOnError",
                        VolumeMounts =
                        [
                            .. copied ? [new V1VolumeMount { Name = AgentVolume, MountPath = AgentPod.AgentDirectory, ReadOnlyProperty = true }] : Array.Empty<V1VolumeMount>(),
                            .. volumes.Select(v => new V1VolumeMount { Name = v.Name, MountPath = v.MountPath, ReadOnlyProperty = v.ReadOnly ? true : null }),
                        ],
                    },
                ],
                Volumes =
                [
                    .. copied ? [new V1Volume { Name = AgentVolume, EmptyDir = new V1EmptyDirVolumeSource() }] : Array.Empty<V1Volume>(),
                    .. volumes.Select(v => v.Source),
                    .. DesiredGitConfig.AuthVolumes(git),
                ],
            },
        };
    }

    /// <summary>The init container that copies the agent from the operator image into a Gentoo image's pod.</summary>
    private static V1Container CopyAgent(string operatorImage) => new()
    {
        Name = AgentVolume,
        Image = operatorImage,
        Command = ["cp", AgentPod.AgentInImage, CopiedAgent],
        VolumeMounts = [new V1VolumeMount { Name = AgentVolume, MountPath = AgentPod.AgentDirectory }],
    };

    /// <summary>Whole CPUs for MAKEOPTS: the CPU limit, else the request, rounded up; null when neither is set.</summary>
    public static int? Cpus(V1ResourceRequirements? resources)
    {
        var cpu = resources?.Limits?.TryGetValue("cpu", out var limit) == true ? limit
            : resources?.Requests?.TryGetValue("cpu", out var request) == true ? request
            : null;
        return cpu is null ? null : Math.Max(1, (int)Math.Ceiling((double)cpu.ToDecimal()));
    }
}
