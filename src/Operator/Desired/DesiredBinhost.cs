using Gentoo.Entities.V1Alpha1;
using k8s;
using k8s.Models;

namespace Gentoo.Operator.Desired;

/// <summary>
/// A builder's binhost: a Deployment of the operator image running `binhost` on the binpkgs volume (read-only), and
/// a Service in front of it. A ReadWriteOnce volume attaches to one node, so the binhost follows the node the
/// builder's pods last ran on; a ReadWriteMany volume lets it run anywhere.
/// </summary>
public static class DesiredBinhost
{
    public const string Component = "binhost";
    public const string PackageMount = "/var/cache/binpkgs";
    public const int ContainerPort = 8080;
    public const int ServicePort = 80;

    public static string Name(string builder) => DesiredAgentPod.Name(builder, Component);

    public const string TokenMount = "/etc/gentoo-binhost/token";
    public const string DefaultTokenKey = "token";

    public static bool OnDemand(GentooBuilder builder) => builder.Spec.Binhost?.OnDemand?.Enabled == true;

    public static string TokenSecretName(GentooBuilder builder) => builder.Spec.Binhost?.OnDemand?.TokenSecretRef?.Name ?? Name(builder.Name()) + "-token";

    public static string TokenKey(GentooBuilder builder) => builder.Spec.Binhost?.OnDemand?.TokenSecretRef?.Key ?? DefaultTokenKey;

    /// <summary>
    /// Where clients find the binhost: the load balancer's address when the Service has one (k3s's ServiceLB, a cloud's, local
    /// mode's published port), else the Service's name in the cluster's DNS.
    /// </summary>
    public static string Url(GentooBuilder builder, V1Service? service) =>
        service?.Status?.LoadBalancer?.Ingress?.Select(i => i.Ip ?? i.Hostname).FirstOrDefault(a => !string.IsNullOrEmpty(a)) is { } address
            ? $"http://{(System.Net.IPAddress.TryParse(address, out var ip) && ip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{address}]" : address)}:{ServicePort}/"
            : $"http://{Name(builder.Name())}.{builder.Namespace()}.svc:{ServicePort}/";

    private static Dictionary<string, string> Labels(GentooBuilder builder) => new()
    {
        [ObjectLabels.ManagedBy] = ObjectLabels.ManagedByOperator,
        [ObjectLabels.Builder] = builder.Name(),
        ["app.kubernetes.io/component"] = Component,
    };

    /// <summary>
    /// Whether the binhost must run where the builds ran: unless the binpkgs volume attaches to many nodes, as the
    /// volume says once it is seen (a retained one may predate the spec), else as the spec asks.
    /// </summary>
    public static bool FollowsBuilds(GentooBuilder builder, V1PersistentVolumeClaim? binpkgs) =>
        binpkgs?.Spec?.AccessModes is { } modes
            ? !modes.Contains(nameof(VolumeAccessMode.ReadWriteMany))
            : builder.Spec.Storage?.Binpkgs?.AccessMode != VolumeAccessMode.ReadWriteMany;

    /// <param name="followsBuilds">Whether the volume attaches to one node only (see <see cref="FollowsBuilds"/>).</param>
    /// <param name="node">With <paramref name="followsBuilds"/>, the node of the latest build, if there was one.</param>
    public static V1Deployment Deployment(GentooBuilder builder, string operatorImage, bool followsBuilds, string? node)
    {
        node = followsBuilds ? node : null;
        var labels = Labels(builder);
        var signed = DesiredSigning.Signed(builder);
        var onDemand = OnDemand(builder);
        var maxRuns = (builder.Spec.Binhost?.OnDemand?.MaxRunsPerHour ?? 6).ToString(System.Globalization.CultureInfo.InvariantCulture);
        return new V1Deployment
        {
            ApiVersion = "apps/v1",
            Kind = "Deployment",
            Metadata = Meta(builder, Name(builder.Name())),
            Spec = new V1DeploymentSpec
            {
                Replicas = 1,
                // Pinned to a node, one pod on the volume at a time: a new one starts only when the old one has let go of it
                // (it may move to another node). On any node, the new one starts before the old one stops.
                Strategy = new V1DeploymentStrategy { Type = followsBuilds ? "Recreate" : "RollingUpdate" },
                Selector = new V1LabelSelector { MatchLabels = labels },
                Template = new V1PodTemplateSpec
                {
                    Metadata = new V1ObjectMeta { Labels = labels },
                    Spec = new V1PodSpec
                    {
                        EnableServiceLinks = false,
                        // Its own account: it reads the builder's runs for its page, and creates them under builds on demand.
                        ServiceAccountName = Name(builder.Name()),
                        AutomountServiceAccountToken = true,
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
                                    "--namespace", builder.Namespace(),
                                    .. signed ? ["--signing-key", $"{DesiredSigning.PublicKeyMount}/{DesiredSigning.PublicKey}"] : Array.Empty<string>(),
                                    .. onDemand ? ["--on-demand-token", $"{TokenMount}/{DefaultTokenKey}", "--max-runs-per-hour", maxRuns] : Array.Empty<string>(),
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
                                    .. onDemand ? [new V1VolumeMount { Name = "token", MountPath = TokenMount, ReadOnlyProperty = true }] : Array.Empty<V1VolumeMount>(),
                                ],
                            },
                        ],
                        Volumes =
                        [
                            PodVolume.Claim("binpkgs", PackageMount, DesiredVolumes.BinpkgsName(builder.Name()), readOnly: true).Source,
                            new V1Volume { Name = "tmp", EmptyDir = new V1EmptyDirVolumeSource() },
                            // The public half only: the secret key is for build and shell pods alone.
                            .. signed ? [new V1Volume { Name = "signing", ConfigMap = new V1ConfigMapVolumeSource { Name = DesiredSigning.PublicConfigMapName(builder.Name()) } }] : Array.Empty<V1Volume>(),
                            .. onDemand
                                // Optional: without the Secret the binhost still serves packages and answers build requests 503.
                                ? [new V1Volume { Name = "token", Secret = new V1SecretVolumeSource { SecretName = TokenSecretName(builder), Items = [new V1KeyToPath { Key = TokenKey(builder), Path = DefaultTokenKey }], Optional = true } }]
                                : Array.Empty<V1Volume>(),
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
            || existing.Spec?.Strategy?.Type != desired.Spec.Strategy.Type
            || Selector(have.NodeSelector) != Selector(want.NodeSelector)
            || (have.ServiceAccountName ?? "default") != (want.ServiceAccountName ?? "default")
            || have.Containers.FirstOrDefault()?.Image != want.Containers[0].Image
            || !(have.Containers.FirstOrDefault()?.Args ?? []).SequenceEqual(want.Containers[0].Args);
    }

    /// <summary>The account a binhost runs as.</summary>
    public static V1ServiceAccount ServiceAccount(GentooBuilder builder) => new()
    {
        ApiVersion = "v1",
        Kind = "ServiceAccount",
        Metadata = Meta(builder, Name(builder.Name())),
        AutomountServiceAccountToken = false, // the Deployment asks for the token explicitly
    };

    /// <summary>What that account may do: read BuildRuns in the builder's namespace (for its page), and create them under builds on demand; nothing else.</summary>
    public static V1Role Role(GentooBuilder builder) => new()
    {
        ApiVersion = "rbac.authorization.k8s.io/v1",
        Kind = "Role",
        Metadata = Meta(builder, Name(builder.Name())),
        Rules = [new V1PolicyRule { ApiGroups = [GroupVersion.Group], Resources = [BuildRun.KubePlural], Verbs = OnDemand(builder) ? ["get", "list", "create"] : ["get", "list"] }],
    };

    public static V1RoleBinding RoleBinding(GentooBuilder builder) => new()
    {
        ApiVersion = "rbac.authorization.k8s.io/v1",
        Kind = "RoleBinding",
        Metadata = Meta(builder, Name(builder.Name())),
        RoleRef = new V1RoleRef { ApiGroup = "rbac.authorization.k8s.io", Kind = "Role", Name = Name(builder.Name()) },
        Subjects = [new Rbacv1Subject { Kind = "ServiceAccount", Name = Name(builder.Name()), NamespaceProperty = builder.Namespace() }],
    };

    /// <summary>The token clients send when the builder names no Secret of its own; it goes with the builder.</summary>
    public static V1Secret TokenSecret(GentooBuilder builder, string token) => new()
    {
        ApiVersion = "v1",
        Kind = "Secret",
        Type = "Opaque",
        Metadata = Meta(builder, TokenSecretName(builder)),
        Data = new Dictionary<string, byte[]> { [DefaultTokenKey] = System.Text.Encoding.ASCII.GetBytes(token) },
    };

    private static V1ObjectMeta Meta(GentooBuilder builder, string name) =>
        new() { Name = name, NamespaceProperty = builder.Namespace(), Labels = Labels(builder), OwnerReferences = [DesiredVolumes.OwnedBy(builder)] };

    /// <param name="builder">The builder.</param>
    /// <param name="defaultType">The Service type when the builder does not name one: ClusterIP on a cluster, LoadBalancer in local mode.</param>
    public static V1Service Service(GentooBuilder builder, string defaultType) => new()
    {
        ApiVersion = "v1",
        Kind = "Service",
        Metadata = Meta(builder, Name(builder.Name())),
        Spec = new V1ServiceSpec
        {
            Type = builder.Spec.Binhost?.ServiceType ?? defaultType,
            Selector = Labels(builder),
            Ports = [new V1ServicePort { Name = "http", Port = ServicePort, TargetPort = "http" }],
        },
    };
}
