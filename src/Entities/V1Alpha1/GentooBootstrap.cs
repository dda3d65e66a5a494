using System.ComponentModel.DataAnnotations;
using System.Text.Json.Serialization;
using Gentoo.Entities.Schema;
using k8s;
using k8s.Models;

namespace Gentoo.Entities.V1Alpha1;

/// <summary>
/// A Gentoo bootstrap: a stage3 unpacked onto a root volume, configured, with the circular dependencies of
/// bootstrapping broken by ordered steps, checked for consistency, and snapshotted so that builders can start from it.
/// </summary>
[KubernetesEntity(Group = GroupVersion.Group, ApiVersion = GroupVersion.Version, Kind = KubeKind, PluralName = KubePlural)]
[ResourceNames(["gboot"], ["gentoo"])]
[PrinterColumn("Phase", "string", ".status.phase", "Where the bootstrap is in its lifecycle")]
[PrinterColumn("Ready", "string", ".status.conditions[?(@.type==\"Ready\")].status", "Whether the bootstrap is ready for builders")]
[PrinterColumn("Reason", "string", ".status.conditions[?(@.type==\"Ready\")].reason", "Why it is or is not ready")]
[PrinterColumn("Step", "string", ".status.currentStep", "The bootstrap step running now")]
[PrinterColumn("Profile", "string", ".spec.profile", "The Portage profile", Priority = 1)]
[PrinterColumn("Snapshot", "string", ".status.snapshot.name", "The snapshot builders are made from", Priority = 1)]
[PrinterColumn("Age", "date", ".metadata.creationTimestamp", "Time since creation")]
[PrinterColumn("Message", "string", ".status.conditions[?(@.type==\"Ready\")].message", "What the Ready condition says")]
public sealed class GentooBootstrap : IKubernetesObject<V1ObjectMeta>, ISpec<GentooBootstrapSpec>, IStatus<GentooBootstrapStatus>
{
    public const string KubeKind = "GentooBootstrap";
    public const string KubePlural = "gentoobootstraps";

    /// <summary>APIVersion defines the versioned schema of this representation of an object.</summary>
    public string ApiVersion { get; set; } = GroupVersion.ApiVersion;

    /// <summary>Kind is a string value representing the REST resource this object represents.</summary>
    public string Kind { get; set; } = KubeKind;

    /// <summary>Standard object metadata.</summary>
    public V1ObjectMeta Metadata { get; set; } = new();

    /// <summary>The desired bootstrap.</summary>
    [Required]
    public GentooBootstrapSpec Spec { get; set; } = new();

    /// <summary>What the operator observed.</summary>
    public GentooBootstrapStatus Status { get; set; } = new();
}

/// <summary>The desired bootstrap.</summary>
public sealed class GentooBootstrapSpec
{
    /// <summary>The stage3 the root volume is first filled from.</summary>
    [Required]
    public Stage3Source Stage3 { get; set; } = new();

    /// <summary>The Portage profile, relative to the profiles directory, for example "default/linux/amd64/23.0/desktop/plasma".</summary>
    [Required]
    [MaxSize(256)]
    [RegularExpression(Patterns.Profile)]
    public string Profile { get; set; } = "";

    /// <summary>Ebuild repositories to sync. Empty means the gentoo repository synced with emerge-webrsync.</summary>
    [ListMap("name")]
    [Size(0, 32)]
    public IList<RepositorySpec>? Repositories { get; set; }

    /// <summary>Inline Portage configuration, applied first.</summary>
    public PortageConfig? Portage { get; set; }

    /// <summary>More configuration from ConfigMaps or a git repository, merged in order after the inline configuration.</summary>
    [Size(0, 16)]
    public IList<ConfigSource>? ConfigFrom { get; set; }

    /// <summary>
    /// Steps run in order before the full world update, to break the circular dependencies of bootstrapping:
    /// the classic move is to build a package once with a USE flag turned off, then rebuild it normally.
    /// </summary>
    [ListMap("name")]
    [Size(0, 64)]
    public IList<BootstrapStep>? BootstrapSteps { get; set; }

    /// <summary>The consistency check run after the steps; by default an emerge --pretend of the full world update.</summary>
    [DefaultJson("{}")]
    public BootstrapCheck? Check { get; set; }

    /// <summary>
    /// When emerge reports a circular dependency and proposes a USE change that breaks it, add that change as a
    /// one-shot step (once) instead of waiting for a person. What was applied is recorded in status.
    /// </summary>
    [DefaultJson("false")]
    public bool? AutoBreakCycles { get; set; }

    /// <summary>The root volume the stage3 is unpacked onto, and the VolumeSnapshotClass used to snapshot it.</summary>
    [DefaultJson("{}")]
    public BootstrapStorage? Storage { get; set; }

    /// <summary>Minimum kernel release of the nodes bootstrap pods may run on, for example "6.1".</summary>
    [RegularExpression(Patterns.KernelVersion)]
    public string? MinKernel { get; set; }

    /// <summary>Compute resources of the bootstrap container; the CPU limit (or request) becomes MAKEOPTS.</summary>
    public V1ResourceRequirements? Resources { get; set; }

    /// <summary>Labels a node must have to run the bootstrap pods.</summary>
    public IDictionary<string, string>? NodeSelector { get; set; }

    /// <summary>Tolerations of the bootstrap pods.</summary>
    public IList<V1Toleration>? Tolerations { get; set; }
}

/// <summary>Where the stage3 comes from.</summary>
public sealed class Stage3Source
{
    /// <summary>A container image holding a Gentoo stage3 filesystem, for example "docker.io/gentoo/stage3:amd64-desktop-openrc".</summary>
    [Required]
    [Size(1, 512)]
    public string Image { get; set; } = "";

    /// <summary>When the image is pulled.</summary>
    [DefaultJson("\"IfNotPresent\"")]
    public PullPolicy? PullPolicy { get; set; }
}

/// <summary>How a repository is synced.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<SyncType>))]
public enum SyncType
{
    /// <summary>A git clone, updated with git pull.</summary>
    [JsonStringEnumMemberName("git")]
    Git,

    /// <summary>rsync from a mirror.</summary>
    [JsonStringEnumMemberName("rsync")]
    Rsync,

    /// <summary>emerge-webrsync: a signed daily snapshot over HTTP.</summary>
    [JsonStringEnumMemberName("webrsync")]
    Webrsync,

    /// <summary>Never synced: a repository already in the root (shipped in the stage3 image, or put there by a person), as repos.conf without sync-type.</summary>
    [JsonStringEnumMemberName("none")]
    None,
}

/// <summary>An ebuild repository and how it is synced (repos.conf).</summary>
[CelRule("self.syncType == 'webrsync' || self.syncType == 'none' || has(self.uri)", "uri is required unless syncType is webrsync or none")]
[CelRule("self.syncType != 'none' || !has(self.uri)", "uri does not apply to syncType none: a repository that is never synced has no source")]
[CelRule("self.syncType == 'git' || !has(self.branch)", "branch applies only to syncType git")]
public sealed class RepositorySpec
{
    /// <summary>The repository name, as in its profiles/repo_name, for example "gentoo" or "guru".</summary>
    [Required]
    [Size(1, 64)]
    [RegularExpression("^[A-Za-z0-9_][A-Za-z0-9_-]*$")]
    public string Name { get; set; } = "";

    /// <summary>How the repository is synced.</summary>
    [Required]
    public SyncType SyncType { get; set; }

    /// <summary>Where it is synced from (git URL or rsync URI).</summary>
    [MaxSize(1024)]
    public string? Uri { get; set; }

    /// <summary>
    /// Where the repository lives in the root, an absolute path such as /var/db/repos/local (the default:
    /// /var/db/repos/NAME). With syncType none it must already hold the repository (profiles/repo_name, metadata/layout.conf).
    /// </summary>
    [MaxSize(512)]
    [RegularExpression("^(/[A-Za-z0-9_+-][A-Za-z0-9._+-]*)+$")]
    public string? Location { get; set; }

    /// <summary>The git branch, for syncType Git.</summary>
    [MaxSize(256)]
    public string? Branch { get; set; }

    /// <summary>Repository priority in repos.conf; higher wins over lower for the same package.</summary>
    [Range(-1000, 1000)]
    public int? Priority { get; set; }
}

/// <summary>One source of additional configuration: a ConfigMap or a path in a git repository, not both.</summary>
[CelRule("has(self.configMapRef) != has(self.git)", "exactly one of configMapRef or git must be set")]
public sealed class ConfigSource
{
    /// <summary>
    /// A ConfigMap in the same namespace. Keys are file names under /etc/portage (make.conf, package.use, ...,
    /// or "world"); a key "package.use.kde" becomes the file package.use/kde.
    /// </summary>
    public LocalReference? ConfigMapRef { get; set; }

    /// <summary>A directory of a git repository laid out like /etc/portage.</summary>
    public GitConfigSource? Git { get; set; }
}

/// <summary>A directory of a git repository laid out like /etc/portage.</summary>
public sealed class GitConfigSource
{
    /// <summary>The repository URL (https or ssh).</summary>
    [Required]
    [Size(1, 1024)]
    public string Url { get; set; } = "";

    /// <summary>Branch, tag or commit.</summary>
    [DefaultJson("\"main\"")]
    [MaxSize(256)]
    public string? Ref { get; set; }

    /// <summary>Directory inside the repository; empty means its top.</summary>
    [MaxSize(1024)]
    public string? Path { get; set; }

    /// <summary>
    /// A Secret in the same namespace with the credentials of a private repository: username and password (or a
    /// token) for https, as in a kubernetes.io/basic-auth Secret; or ssh-privatekey and known_hosts for ssh, as in
    /// a kubernetes.io/ssh-auth Secret with the host keys added.
    /// </summary>
    public LocalReference? SecretRef { get; set; }
}

/// <summary>One bootstrap step: emerge some atoms, optionally with temporary USE flags.</summary>
public sealed class BootstrapStep
{
    /// <summary>A unique name for the step, shown in status.</summary>
    [Required]
    [Size(1, 63)]
    [RegularExpression("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")]
    public string Name { get; set; } = "";

    /// <summary>The atoms to emerge in this step.</summary>
    [Required]
    [Size(1, 64)]
    [ItemSize(1, 512)]
    [ItemPattern(Patterns.AtomOrSet)]
    [CelRule(Patterns.VersionWithoutOperator, Patterns.VersionWithoutOperatorMessage)]
    public IList<string> Atoms { get; set; } = [];

    /// <summary>USE flags set only for this step (for example "-harfbuzz"); the normal configuration applies again afterwards.</summary>
    [Size(0, 64)]
    [ItemPattern(Patterns.UseFlag)]
    public IList<string>? Use { get; set; }

    /// <summary>Emerge with --oneshot so the atoms are not added to the world set.</summary>
    [DefaultJson("true")]
    public bool? Oneshot { get; set; }

    /// <summary>Extra emerge arguments for this step.</summary>
    [Size(0, 64)]
    [ItemPattern(Patterns.EmergeArgument)]
    public IList<string>? EmergeArgs { get; set; }
}

/// <summary>The consistency check of a bootstrap (make check).</summary>
public sealed class BootstrapCheck
{
    /// <summary>Whether the check runs.</summary>
    [DefaultJson("true")]
    public bool? Enabled { get; set; }

    /// <summary>The emerge arguments of the check.</summary>
    [DefaultJson("""["--pretend","--update","--deep","--newuse","@world"]""")]
    [Size(1, 64)]
    [ItemPattern(Patterns.EmergeArgument)]
    public IList<string>? EmergeArgs { get; set; }
}

/// <summary>The bootstrap's root volume.</summary>
public sealed class BootstrapStorage
{
    /// <summary>Capacity of the root volume.</summary>
    [DefaultJson("\"60Gi\"")]
    [RegularExpression("^[0-9]+(\\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$")]
    public string? Size { get; set; }

    /// <summary>StorageClass of the root volume; empty uses the cluster's default class.</summary>
    [MaxSize(253)]
    public string? StorageClassName { get; set; }

    /// <summary>VolumeSnapshotClass for the snapshot taken after a successful bootstrap; empty uses the default class.</summary>
    [MaxSize(253)]
    public string? VolumeSnapshotClassName { get; set; }
}

/// <summary>Where a GentooBootstrap is in its lifecycle.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<BootstrapPhase>))]
public enum BootstrapPhase
{
    /// <summary>Waiting for its volume or configuration.</summary>
    Pending,

    /// <summary>A bootstrap pod runs the steps.</summary>
    Bootstrapping,

    /// <summary>A transient failure; the next attempt starts after the backoff.</summary>
    Retrying,

    /// <summary>A step failed; a person must fix it and resume.</summary>
    AwaitingOperator,

    /// <summary>The steps passed; waiting for the snapshot of the root.</summary>
    Snapshotting,

    /// <summary>The root is bootstrapped and its snapshot (or copy source) ready for builders.</summary>
    Ready,
}

/// <summary>What the operator observed of a bootstrap.</summary>
public sealed class GentooBootstrapStatus : CommonStatus<BootstrapPhase>
{
    /// <summary>Name of the PersistentVolumeClaim holding the bootstrapped root.</summary>
    public string? RootVolume { get; set; }

    /// <summary>The step that runs now.</summary>
    public string? CurrentStep { get; set; }

    /// <summary>Steps that completed for the observed generation, in order.</summary>
    public IList<string>? CompletedSteps { get; set; }

    /// <summary>A digest of each completed step's definition (with the profile): a step whose definition changed runs again.</summary>
    public IDictionary<string, string>? CompletedStepDigests { get; set; }

    /// <summary>Bootstrap pods started so far; the newest is named NAME-bootstrap-N.</summary>
    public int? AttemptCount { get; set; }

    /// <summary>Cycle-breaking steps the operator added because autoBreakCycles is on.</summary>
    public IList<AppliedCycleBreak>? AppliedCycleBreaks { get; set; }

    /// <summary>The snapshot builders are made from.</summary>
    public BootstrapSnapshot? Snapshot { get; set; }

    /// <summary>The highest kernel the bootstrapped binaries require.</summary>
    public KernelRequirement? RequiredKernel { get; set; }

    /// <summary>The last rerun token acted on (echo of the gentoobuilder.io/rerun annotation).</summary>
    public string? LastHandledRerun { get; set; }

    /// <summary>The last resume token acted on (echo of the gentoobuilder.io/resume annotation).</summary>
    public string? LastHandledResume { get; set; }
}

/// <summary>A USE change that broke a circular dependency, applied automatically.</summary>
public sealed class AppliedCycleBreak
{
    /// <summary>The cycle as emerge printed it.</summary>
    public string? Cycle { get; set; }

    /// <summary>The package.use line applied for one build, for example "media-libs/freetype -harfbuzz".</summary>
    public string? UseChange { get; set; }

    /// <summary>Name of the step added for it.</summary>
    public string? Step { get; set; }

    /// <summary>The bootstrap step (or "check") that met the cycle; the added step runs just before it.</summary>
    public string? Before { get; set; }
}

/// <summary>How builders get a copy of the bootstrapped root.</summary>
public sealed class BootstrapSnapshot
{
    /// <summary>VolumeSnapshot when the cluster can snapshot the volume, otherwise PvcCopy (the root volume is kept and each builder copies it).</summary>
    public string? Method { get; set; }

    /// <summary>Name of the VolumeSnapshot, or of the PersistentVolumeClaim copied from.</summary>
    public string? Name { get; set; }

    /// <summary>Whether builders can be made from it now.</summary>
    public bool? ReadyToUse { get; set; }

    /// <summary>When it was taken.</summary>
    public DateTime? CreationTime { get; set; }
}
