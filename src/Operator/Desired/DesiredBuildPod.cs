using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Gentoo.Entities.V1Alpha1;
using Gentoo.Portage.Kernels;
using k8s;
using k8s.Models;

namespace Gentoo.Operator.Desired;

/// <summary>What every build pod shares: the operator's own image (which carries the agent) and how long emerge may take to stop.</summary>
public sealed record PodSettings(string OperatorImage)
{
    public const string AgentInImage = "/opt/gentoo-builder/gentoo-agent";

    /// <summary>Emerge finishes its running ebuild phase after SIGTERM; the agent waits this long for it.</summary>
    public int AgentGracePeriodSeconds { get; init; } = 300;

    public int PodGracePeriodSeconds => AgentGracePeriodSeconds + 30;
}

/// <summary>
/// The pod of one BuildRun attempt. Its name is deterministic per attempt, so an operator restart finds the pod it
/// started instead of starting a second build. An init container copies the agent from the operator image into a
/// shared volume (the Gentoo image holds nothing of ours); the build container runs it with the builder's volumes.
/// </summary>
public static class DesiredBuildPod
{
    public const string BuildRunLabel = GroupVersion.Group + "/buildrun";
    public const string AttemptLabel = GroupVersion.Group + "/attempt";
    public const string BuildContainer = "build";
    public const string AgentDirectory = "/gentoo-builder/bin";
    public const string RootMount = "/mnt/gentoo";
    public const string BinpkgsMount = "/mnt/binpkgs";
    public const string DistfilesMount = "/mnt/distfiles";
    public const string ConfigMount = "/etc/gentoo-builder/config";

    public static string ConfigMapName(string builder) => builder + "-portage";

    /// <summary>RUN-N, shortened with a hash when the run's name is long, so that it is always a valid pod name.</summary>
    public static string PodName(string run, int attempt)
    {
        var suffix = "-" + attempt.ToString(CultureInfo.InvariantCulture);
        if (run.Length + suffix.Length <= 63)
        {
            return run + suffix;
        }

        var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(run)))[..8];
        return run[..(63 - suffix.Length - 9)].TrimEnd('-', '.') + "-" + hash + suffix;
    }

    public static V1Pod Build(BuildRun run, GentooBuilder builder, string image, int attempt, KernelVersion? requiredKernel, PodSettings settings)
    {
        var spec = run.Spec;
        var args = new List<string> { "build", "--root", RootMount, "--config", ConfigMount, "--binpkgs", BinpkgsMount, "--distfiles", DistfilesMount };
        foreach (var package in spec.Packages is { Count: > 0 } packages ? packages : ["@world"])
        {
            args.AddRange(["--package", package]);
        }

        foreach (var arg in spec.EmergeArgs ?? [])
        {
            args.AddRange(["--emerge-arg", arg]);
        }

        if (spec.KeepGoing == true)
        {
            args.Add("--keep-going");
        }

        if (Cpus(builder.Spec.Resources) is { } cpus)
        {
            args.AddRange(["--cpus", cpus.ToString(CultureInfo.InvariantCulture)]);
        }

        args.AddRange(["--grace-period", settings.AgentGracePeriodSeconds.ToString(CultureInfo.InvariantCulture)]);

        return new V1Pod
        {
            ApiVersion = "v1",
            Kind = "Pod",
            Metadata = new V1ObjectMeta
            {
                Name = PodName(run.Name(), attempt),
                NamespaceProperty = run.Namespace(),
                Labels = new Dictionary<string, string>
                {
                    [DesiredVolumes.ManagedByLabel] = DesiredVolumes.ManagedBy,
                    [DesiredVolumes.BuilderLabel] = builder.Name(),
                    [BuildRunLabel] = run.Name(),
                    [AttemptLabel] = attempt.ToString(CultureInfo.InvariantCulture),
                },
                OwnerReferences = [DesiredVolumes.OwnedBy(run)],
            },
            Spec = new V1PodSpec
            {
                RestartPolicy = "Never",
                TerminationGracePeriodSeconds = settings.PodGracePeriodSeconds,
                EnableServiceLinks = false,
                AutomountServiceAccountToken = false,
                NodeSelector = builder.Spec.NodeSelector,
                Tolerations = builder.Spec.Tolerations,
                Affinity = requiredKernel is { } kernel
                    ? new V1Affinity { NodeAffinity = new V1NodeAffinity { RequiredDuringSchedulingIgnoredDuringExecution = NodeKernel.AtLeast(kernel) } }
                    : null,
                InitContainers =
                [
                    new V1Container
                    {
                        Name = "agent",
                        Image = settings.OperatorImage,
                        Command = ["cp", PodSettings.AgentInImage, AgentDirectory + "/gentoo-agent"],
                        VolumeMounts = [new V1VolumeMount { Name = "agent", MountPath = AgentDirectory }],
                    },
                ],
                Containers =
                [
                    new V1Container
                    {
                        Name = BuildContainer,
                        Image = image,
                        Command = [AgentDirectory + "/gentoo-agent"],
                        Args = args,
                        Resources = builder.Spec.Resources,
                        // Chroot with bind mounts needs these; a cluster that grants them otherwise may narrow it.
                        SecurityContext = builder.Spec.SecurityContext ?? new V1SecurityContext { Privileged = true, RunAsUser = 0 },
                        TerminationMessagePath = "/dev/termination-log",
                        TerminationMessagePolicy = "FallbackToLogsOnError",
                        VolumeMounts =
                        [
                            new V1VolumeMount { Name = "agent", MountPath = AgentDirectory, ReadOnlyProperty = true },
                            new V1VolumeMount { Name = "root", MountPath = RootMount },
                            new V1VolumeMount { Name = "binpkgs", MountPath = BinpkgsMount },
                            new V1VolumeMount { Name = "distfiles", MountPath = DistfilesMount },
                            new V1VolumeMount { Name = "config", MountPath = ConfigMount, ReadOnlyProperty = true },
                        ],
                    },
                ],
                Volumes =
                [
                    new V1Volume { Name = "agent", EmptyDir = new V1EmptyDirVolumeSource() },
                    Claim("root", DesiredVolumes.RootName(builder.Name())),
                    Claim("binpkgs", DesiredVolumes.BinpkgsName(builder.Name())),
                    Claim("distfiles", DesiredVolumes.DistfilesName(builder.Name())),
                    new V1Volume { Name = "config", ConfigMap = new V1ConfigMapVolumeSource { Name = ConfigMapName(builder.Name()) } },
                ],
            },
        };
    }

    /// <summary>Whole CPUs for MAKEOPTS: the CPU limit, else the request, rounded up; null when neither is set.</summary>
    public static int? Cpus(V1ResourceRequirements? resources)
    {
        var cpu = resources?.Limits?.TryGetValue("cpu", out var limit) == true ? limit
            : resources?.Requests?.TryGetValue("cpu", out var request) == true ? request
            : null;
        return cpu is null ? null : Math.Max(1, (int)Math.Ceiling((double)cpu.ToDecimal()));
    }

    private static V1Volume Claim(string name, string claim) =>
        new() { Name = name, PersistentVolumeClaim = new V1PersistentVolumeClaimVolumeSource { ClaimName = claim } };
}
