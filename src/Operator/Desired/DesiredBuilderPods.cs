using Gentoo.Entities.V1Alpha1;
using Gentoo.Protocol;
using Gentoo.Portage.Kernels;
using k8s;
using k8s.Models;

namespace Gentoo.Operator.Desired;

/// <summary>
/// The pods that work on a builder's volumes: its BuildRuns' build pods share the placement and volumes made here;
/// maintenance pods run the agent's update or sync step; the copy pod fills a new root volume from the bootstrap's
/// root where the cluster cannot snapshot it.
/// </summary>
public static class DesiredBuilderPods
{
    public const string MaintenanceLabel = GroupVersion.Group + "/maintenance";
    public const string CopyMarker = ".gentoo-builder-copied";
    private const string CopySourceMount = "/mnt/source";

    public static string ConfigMapName(string builder) => builder + "-portage";

    /// <summary>The fixes accepted for this builder (by a person on resume, or by autounmask), beside its configuration.</summary>
    public static string FixesConfigMapName(string builder) => builder + "-fixes";

    /// <summary>
    /// The fixes a person accepted (and autounmask wrote): configuration, kept as the packages built with it are. Under
    /// the default retainPolicy it has no owner reference and a re-created builder of the same name takes it up again.
    /// </summary>
    public static V1ConfigMap FixesConfigMap(GentooBuilder builder, IDictionary<string, string> data) =>
        DesiredConfig.ConfigMap(builder, FixesConfigMapName(builder.Name()), data, retained: builder.Spec.Storage?.Binpkgs?.RetainPolicy != RetainPolicy.Delete);

    /// <summary>BUILDER-STEP-ID, where the id comes from what asked for it (a request token, a configuration, a schedule time).</summary>
    public static string MaintenancePodName(string builder, AgentStep step, string id) => DesiredAgentPod.Name(builder, $"{step.Name()}-{id}");

    public static string CopyPodName(string builder) => DesiredAgentPod.Name(builder, "copy-root");

    /// <summary>Where a builder's agent pods run: the root volume holds the system, so the agent runs from the operator image.</summary>
    /// <param name="builder">The builder.</param>
    /// <param name="requiredKernel">The kernel the node must have at least, if any.</param>
    /// <param name="configFrom">The bootstrap's configFrom: its git sources are checked out for the pod.</param>
    public static AgentPlacement Placement(GentooBuilder builder, KernelVersion? requiredKernel, IList<ConfigSource>? configFrom) =>
        new(GentooImage: null, builder.Spec.Resources, builder.Spec.NodeSelector, builder.Spec.Tolerations, requiredKernel, builder.Spec.SecurityContext,
            ConfigGit: DesiredGitConfig.Sources(configFrom));

    public static List<string> Arguments(AgentStep step, GentooBuilder builder, PodSettings settings, params string[] more) =>
        DesiredAgentPod.Arguments(step, builder.Spec.Resources, settings,
            ["--config", AgentPod.ConfigMount, "--binpkgs", AgentPod.BinpkgsMount, "--distfiles", AgentPod.DistfilesMount, .. more]);

    public static IReadOnlyList<PodVolume> Volumes(GentooBuilder builder) =>
    [
        PodVolume.Claim("root", AgentPod.RootMount, DesiredVolumes.RootName(builder.Name())),
        PodVolume.Claim("binpkgs", AgentPod.BinpkgsMount, DesiredVolumes.BinpkgsName(builder.Name())),
        PodVolume.Claim("distfiles", AgentPod.DistfilesMount, DesiredVolumes.DistfilesName(builder.Name())),
        // One directory for the agent: the configuration and the accepted fixes (their keys end in .fixes, so never collide).
        new("config", AgentPod.ConfigMount, new V1Volume
        {
            Name = "config",
            Projected = new V1ProjectedVolumeSource
            {
                Sources =
                [
                    new V1VolumeProjection { ConfigMap = new V1ConfigMapProjection { Name = ConfigMapName(builder.Name()) } },
                    new V1VolumeProjection { ConfigMap = new V1ConfigMapProjection { Name = FixesConfigMapName(builder.Name()), Optional = true } },
                ],
            },
        }, ReadOnly: true),
    ];

    /// <summary>make update (sync, then what a world update would change) or a plain repository sync, on the builder's volumes.</summary>
    /// <param name="builder">The builder.</param>
    /// <param name="step">Update, sync, a person's shell, or publishing a release.</param>
    /// <param name="id">What asked for it (see <see cref="MaintenancePodName"/>).</param>
    /// <param name="configFrom">The bootstrap's configFrom.</param>
    /// <param name="settings">The operator's pod settings.</param>
    /// <param name="publish">For the publish step: the release to publish.</param>
    public static V1Pod Maintenance(GentooBuilder builder, AgentStep step, string id, IList<ConfigSource>? configFrom, PodSettings settings, string? publish = null)
    {
        var labels = new Dictionary<string, string> { [ObjectLabels.Builder] = builder.Name(), [MaintenanceLabel] = step.Name() };
        // A person in a shell may emerge into the PKGDIR clients verify: the shell signs as builds do; updates and syncs build nothing.
        var shell = step == AgentStep.Shell;
        string[] more = shell ? [.. DesiredSigning.KeyArguments(builder)]
            : step == AgentStep.Publish ? ["--publish", publish ?? throw new ArgumentNullException(nameof(publish)), .. Decisions.Releases.RetentionArguments(builder)]
            : [];
        return DesiredAgentPod.Build(MaintenancePodName(builder.Name(), step, id), builder, labels, Placement(builder, null, configFrom),
            Arguments(step, builder, settings, more), shell ? DesiredSigning.WithKey(builder, Volumes(builder)) : Volumes(builder), settings);
    }

    /// <summary>
    /// Copies a bootstrap's root volume into a builder's new, empty one, preserving ownership, modes, links and
    /// extended attributes. The marker written last makes it idempotent: a rerun after completion copies nothing. It
    /// runs in the operator image (a shell and GNU cp), as the builder's other pods do.
    /// </summary>
    public static V1Pod CopyRoot(GentooBuilder builder, string sourceClaim, string operatorImage)
    {
        var script = $"set -eu; if [ -e {AgentPod.RootMount}/{CopyMarker} ]; then echo 'root already copied'; exit 0; fi; "
            + $"cp -a {CopySourceMount}/. {AgentPod.RootMount}/ && touch {AgentPod.RootMount}/{CopyMarker} && echo 'root copied from {sourceClaim}'";
        return new V1Pod
        {
            ApiVersion = "v1",
            Kind = "Pod",
            Metadata = new V1ObjectMeta
            {
                Name = CopyPodName(builder.Name()),
                NamespaceProperty = builder.Namespace(),
                Labels = new Dictionary<string, string>
                {
                    [ObjectLabels.ManagedBy] = ObjectLabels.ManagedByOperator,
                    [ObjectLabels.Builder] = builder.Name(),
                    [MaintenanceLabel] = "copy-root",
                },
                OwnerReferences = [DesiredVolumes.OwnedBy(builder)],
            },
            Spec = new V1PodSpec
            {
                RestartPolicy = "Never",
                EnableServiceLinks = false,
                AutomountServiceAccountToken = false,
                NodeSelector = builder.Spec.NodeSelector,
                Tolerations = builder.Spec.Tolerations,
                Containers =
                [
                    new V1Container
                    {
                        Name = AgentPod.Container,
                        Image = operatorImage,
                        Command = ["/bin/sh", "-c", script],
                        SecurityContext = new V1SecurityContext { RunAsUser = 0 },
                        VolumeMounts =
                        [
                            new V1VolumeMount { Name = "source", MountPath = CopySourceMount, ReadOnlyProperty = true },
                            new V1VolumeMount { Name = "root", MountPath = AgentPod.RootMount },
                        ],
                    },
                ],
                Volumes =
                [
                    PodVolume.Claim("source", CopySourceMount, sourceClaim, readOnly: true).Source,
                    PodVolume.Claim("root", AgentPod.RootMount, DesiredVolumes.RootName(builder.Name())).Source,
                ],
            },
        };
    }
}
