using Gentoo.Entities.V1Alpha1;
using k8s;
using k8s.Models;

namespace Gentoo.Operator.Desired;

/// <summary>
/// A builder's binhost: a Deployment of the operator image running `binhost` on the binpkgs volume (read-only), and
/// a Service in front of it. A ReadWriteOnce volume attaches to one node, so the binhost follows the node the
/// builder's pods last ran on.
/// </summary>
public static class DesiredBinhost
{
    public const string Component = "binhost";
    public const string PackageMount = "/var/cache/binpkgs";
    public const int ContainerPort = 8080;
    public const int ServicePort = 80;

    public static string Name(string builder) => DesiredAgentPod.Name(builder, Component);

    public static string Url(GentooBuilder builder) => $"http://{Name(builder.Name())}.{builder.Namespace()}.svc:{ServicePort}/";

    private static Dictionary<string, string> Labels(GentooBuilder builder) => new()
    {
        [DesiredVolumes.ManagedByLabel] = DesiredVolumes.ManagedBy,
        [DesiredVolumes.BuilderLabel] = builder.Name(),
        ["app.kubernetes.io/component"] = Component,
    };

    public static V1Deployment Deployment(GentooBuilder builder, string operatorImage, string? node)
    {
        var labels = Labels(builder);
        var signed = DesiredSigning.Signed(builder);
        return new V1Deployment
        {
            ApiVersion = "apps/v1",
            Kind = "Deployment",
            Metadata = new V1ObjectMeta { Name = Name(builder.Name()), NamespaceProperty = builder.Namespace(), Labels = labels, OwnerReferences = [DesiredVolumes.OwnedBy(builder)] },
            Spec = new V1DeploymentSpec
            {
                Replicas = 1,
                // One pod on the volume at a time: a new one starts only when the old one has let go of it.
                Strategy = new V1DeploymentStrategy { Type = "Recreate" },
                Selector = new V1LabelSelector { MatchLabels = labels },
                Template = new V1PodTemplateSpec
                {
                    Metadata = new V1ObjectMeta { Labels = labels },
                    Spec = new V1PodSpec
                    {
                        EnableServiceLinks = false,
                        AutomountServiceAccountToken = false,
                        NodeSelector = node is null ? builder.Spec.NodeSelector : new Dictionary<string, string>(builder.Spec.NodeSelector ?? new Dictionary<string, string>()) { ["kubernetes.io/hostname"] = node },
                        Tolerations = builder.Spec.Tolerations,
                        SecurityContext = new V1PodSecurityContext { RunAsNonRoot = true, RunAsUser = 65532, SeccompProfile = new V1SeccompProfile { Type = "RuntimeDefault" } },
                        Containers =
                        [
                            new V1Container
                            {
                                Name = Component,
                                Image = operatorImage,
                                Args =
                                [
                                    "binhost", "--pkgdir", PackageMount, "--name", builder.Name(), "--port", ContainerPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
                                    .. signed ? ["--signing-key", $"{DesiredSigning.PublicKeyMount}/{DesiredSigning.PublicKey}"] : Array.Empty<string>(),
                                ],
                                Ports = [new V1ContainerPort { Name = "http", ContainerPort = ContainerPort }],
                                ReadinessProbe = new V1Probe { HttpGet = new V1HTTPGetAction { Path = "/binrepos.conf", Port = "http" } },
                                Resources = builder.Spec.Binhost?.Resources,
                                SecurityContext = new V1SecurityContext { AllowPrivilegeEscalation = false, ReadOnlyRootFilesystem = true, Capabilities = new V1Capabilities { Drop = ["ALL"] } },
                                VolumeMounts =
                                [
                                    new V1VolumeMount { Name = "binpkgs", MountPath = PackageMount, ReadOnlyProperty = true },
                                    new V1VolumeMount { Name = "tmp", MountPath = "/tmp" }, // .NET's scratch space under a read-only root
                                    .. signed ? [new V1VolumeMount { Name = "signing", MountPath = DesiredSigning.PublicKeyMount, ReadOnlyProperty = true }] : Array.Empty<V1VolumeMount>(),
                                ],
                            },
                        ],
                        Volumes =
                        [
                            PodVolume.Claim("binpkgs", PackageMount, DesiredVolumes.BinpkgsName(builder.Name()), readOnly: true).Source,
                            new V1Volume { Name = "tmp", EmptyDir = new V1EmptyDirVolumeSource() },
                            // The public half only: the secret key never leaves the build pods.
                            .. signed ? [new V1Volume { Name = "signing", ConfigMap = new V1ConfigMapVolumeSource { Name = DesiredSigning.PublicConfigMapName(builder.Name()) } }] : Array.Empty<V1Volume>(),
                        ],
                    },
                },
            },
        };
    }

    /// <summary>Whether the running Deployment differs in what we set (the API server adds defaults we leave alone).</summary>
    public static bool Differs(V1Deployment existing, V1Deployment desired)
    {
        var (have, want) = (existing.Spec?.Template?.Spec, desired.Spec.Template.Spec);
        string Selector(IDictionary<string, string>? s) => string.Join(",", (s ?? new Dictionary<string, string>()).OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => $"{p.Key}={p.Value}"));
        return have is null
            || Selector(have.NodeSelector) != Selector(want.NodeSelector)
            || have.Containers.FirstOrDefault()?.Image != want.Containers[0].Image
            || !(have.Containers.FirstOrDefault()?.Args ?? []).SequenceEqual(want.Containers[0].Args);
    }

    public static V1Service Service(GentooBuilder builder) => new()
    {
        ApiVersion = "v1",
        Kind = "Service",
        Metadata = new V1ObjectMeta { Name = Name(builder.Name()), NamespaceProperty = builder.Namespace(), Labels = Labels(builder), OwnerReferences = [DesiredVolumes.OwnedBy(builder)] },
        Spec = new V1ServiceSpec
        {
            Type = builder.Spec.Binhost?.ServiceType ?? "ClusterIP",
            Selector = Labels(builder),
            Ports = [new V1ServicePort { Name = "http", Port = ServicePort, TargetPort = "http" }],
        },
    };
}
