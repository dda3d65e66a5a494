using System.ComponentModel.DataAnnotations;
using System.Text.Json.Serialization;
using Gentoo.Entities.Schema;
using k8s;
using k8s.Models;

namespace Gentoo.Entities.V1Alpha1;

/// <summary>
/// A Gentoo build tree: a root volume made from a bootstrap (or a snapshot), with volumes for binary packages
/// and source archives, kept in sync and built on a schedule. BuildRuns build packages on it.
/// </summary>
[KubernetesEntity(Group = GroupVersion.Group, ApiVersion = GroupVersion.Version, Kind = KubeKind, PluralName = KubePlural)]
[ResourceNames(["gbuilder", "gb"], ["gentoo"])]
[PrinterColumn("Phase", "string", ".status.phase", "Where the builder is in its lifecycle")]
[PrinterColumn("Ready", "string", ".status.conditions[?(@.type==\"Ready\")].status", "Whether the builder can build")]
[PrinterColumn("Reason", "string", ".status.conditions[?(@.type==\"Ready\")].reason", "Why it is or is not ready")]
[PrinterColumn("Bootstrap", "string", ".spec.bootstrapRef.name", "The bootstrap the builder was made from")]
[PrinterColumn("Current", "string", ".status.currentBuildRun", "The BuildRun running now")]
[PrinterColumn("Published", "string", ".status.releases.published", "The release the binhost serves")]
[PrinterColumn("Binhost", "string", ".status.binhostUrl", "Where Portage clients find the binhost")]
[PrinterColumn("Kernel", "string", ".status.requiredKernel.version", "Minimum kernel of the build nodes", Priority = 1)]
[PrinterColumn("Last-Success", "string", ".status.lastSuccessfulBuildRun", "The last BuildRun that succeeded", Priority = 1)]
[PrinterColumn("Age", "date", ".metadata.creationTimestamp", "Time since creation")]
[PrinterColumn("Message", "string", ".status.conditions[?(@.type==\"Ready\")].message", "What the Ready condition says")]
public sealed class GentooBuilder : IKubernetesObject<V1ObjectMeta>, ISpec<GentooBuilderSpec>, IStatus<GentooBuilderStatus>
{
    public const string KubeKind = "GentooBuilder";
    public const string KubePlural = "gentoobuilders";

    /// <summary>APIVersion defines the versioned schema of this representation of an object.</summary>
    public string ApiVersion { get; set; } = GroupVersion.ApiVersion;

    /// <summary>Kind is a string value representing the REST resource this object represents.</summary>
    public string Kind { get; set; } = KubeKind;

    /// <summary>Standard object metadata.</summary>
    public V1ObjectMeta Metadata { get; set; } = new();

    /// <summary>The desired builder.</summary>
    [Required]
    public GentooBuilderSpec Spec { get; set; } = new();

    /// <summary>What the operator observed.</summary>
    public GentooBuilderStatus Status { get; set; } = new();
}

/// <summary>How accepted keyword changes are written.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<AutounmaskPolicy>))]
public enum AutounmaskPolicy
{
    /// <summary>Never change configuration: a build that needs a change waits for a person.</summary>
    Never,

    /// <summary>Write the keyword changes emerge asks for as managed configuration, and go on.</summary>
    Keywords,

    /// <summary>Write keyword and USE changes emerge asks for as managed configuration, and go on.</summary>
    KeywordsAndUse,
}

/// <summary>How wide an accepted keyword is written, so that it survives version bumps.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<KeywordScope>))]
public enum KeywordScope
{
    /// <summary>Exactly the version emerge asked for (=dev-libs/nss-3.45): stops matching at the next bump.</summary>
    Version,

    /// <summary>The package's slot (dev-libs/nss:0): follows bumps within the slot.</summary>
    Slot,

    /// <summary>The whole package (dev-libs/nss): follows every bump.</summary>
    Package,
}

/// <summary>The desired builder.</summary>
[CelRule("has(self.bootstrapRef) != has(self.restoreFrom)", "exactly one of spec.bootstrapRef or spec.restoreFrom must be set")]
[CelRule("has(self.bootstrapRef) == has(oldSelf.bootstrapRef)", "spec.bootstrapRef and spec.restoreFrom are immutable: a builder's root cannot change its source")]
public sealed class GentooBuilderSpec
{
    /// <summary>The GentooBootstrap whose snapshot becomes this builder's root volume. Exactly one of bootstrapRef and restoreFrom is set.</summary>
    [Immutable]
    public LocalReference? BootstrapRef { get; set; }

    /// <summary>A VolumeSnapshot (of an earlier builder's root) to restore the root volume from. Exactly one of bootstrapRef and restoreFrom is set.</summary>
    [Immutable]
    public SnapshotReference? RestoreFrom { get; set; }

    /// <summary>The builder's volumes.</summary>
    [DefaultJson("{}")]
    public BuilderStorage? Storage { get; set; }

    /// <summary>How often the repositories are re-synced; empty syncs only before builds that ask for it.</summary>
    public SyncSchedule? Sync { get; set; }

    /// <summary>BuildRuns created on a schedule, like a CronJob: the "build forever" loop.</summary>
    public AutoBuild? AutoBuild { get; set; }

    /// <summary>Minimum kernel release of the nodes build pods may run on, for example "6.1".</summary>
    [RegularExpression(Patterns.KernelVersion)]
    public string? MinKernel { get; set; }

    /// <summary>
    /// Also require the highest kernel that the ELF ABI notes of already built binaries demand: a library built for
    /// a newer kernel cannot run, or be linked against, on an older one.
    /// </summary>
    [DefaultJson("true")]
    public bool? KernelFromBinaries { get; set; }

    /// <summary>Releases: what each successful BuildRun leaves, published to clients, kept and purged.</summary>
    public ReleasePolicy? Releases { get; set; }

    /// <summary>Snapshots of the root volume after successful BuildRuns (what docker commit did).</summary>
    [DefaultJson("{}")]
    public SnapshotPolicy? Snapshots { get; set; }

    /// <summary>Whether configuration changes emerge asks for are written automatically, or wait for a person.</summary>
    [DefaultJson("\"Never\"")]
    public AutounmaskPolicy? Autounmask { get; set; }

    /// <summary>How wide an automatically or manually accepted keyword change is written: Version, Slot or Package.</summary>
    [DefaultJson("\"Slot\"")]
    public KeywordScope? KeywordScope { get; set; }

    /// <summary>Compute resources of the build container; the CPU limit (or request) becomes MAKEOPTS.</summary>
    public V1ResourceRequirements? Resources { get; set; }

    /// <summary>Labels a node must have to run the builder's pods.</summary>
    public IDictionary<string, string>? NodeSelector { get; set; }

    /// <summary>Tolerations of the builder's pods.</summary>
    public IList<V1Toleration>? Tolerations { get; set; }

    /// <summary>
    /// Replaces the build container's security context. The default grants what a chroot with bind mounts
    /// needs (privileged); narrow it only when the cluster provides those capabilities otherwise. The agent runs
    /// as root (the pod's runAsUser 0) unless this names another user.
    /// </summary>
    public V1SecurityContext? SecurityContext { get; set; }

    /// <summary>Serving the binary packages over HTTP to Portage clients.</summary>
    [DefaultJson("{}")]
    public BinhostSpec? Binhost { get; set; }

    /// <summary>
    /// How binary packages are signed (FEATURES=binpkg-signing): Portage 3.0.78 and later verify what they fetch
    /// by default. Empty signs with a key the operator makes in the Secret NAME-signing-key.
    /// </summary>
    [DefaultJson("{}")]
    public SigningSpec? Signing { get; set; }
}

/// <summary>The key builds sign binary packages with, or the explicit choice not to sign.</summary>
[CelRule("!(has(self.keySecretRef) && has(self.unsigned) && self.unsigned)", "set spec.signing.keySecretRef or spec.signing.unsigned: true, not both")]
public sealed class SigningSpec
{
    /// <summary>
    /// A Secret holding an unprotected OpenPGP secret key (gpg --armor --export-secret-keys); a revoked or expired key,
    /// or one without a signing (sub)key, is refused naming the Secret. Empty: the operator makes an Ed25519 key in the
    /// Secret NAME-signing-key on first use, valid for two years and extended when one year is left, with its revocation
    /// certificate under revocation.asc; it keeps that Secret when the builder is deleted, since clients trust the key.
    /// </summary>
    public SecretKeyReference? KeySecretRef { get; set; }

    /// <summary>Build and serve unsigned packages; clients then need verify-signature = false, which the served binrepos.conf says.</summary>
    [DefaultJson("false")]
    public bool? Unsigned { get; set; }
}

/// <summary>A key of a Secret in the same namespace.</summary>
public sealed class SecretKeyReference
{
    /// <summary>Name of the Secret.</summary>
    [Required]
    [MaxSize(253)]
    [RegularExpression(Patterns.ObjectName)]
    public string Name { get; set; } = "";

    /// <summary>The key within the Secret's data; empty means signing.asc for a signing key, token for a token.</summary>
    [MaxSize(253)]
    [RegularExpression("^[-._a-zA-Z0-9]+$")]
    public string? Key { get; set; }
}

/// <summary>The builder's binhost: a Deployment serving the binpkgs volume read-only, and a Service in front of it.</summary>
public sealed class BinhostSpec
{
    /// <summary>Whether the operator runs the binhost.</summary>
    [DefaultJson("true")]
    public bool? Enabled { get; set; }

    /// <summary>
    /// The type of the binhost's Service: ClusterIP, NodePort or LoadBalancer. Unset: ClusterIP on a cluster; in local mode
    /// LoadBalancer, whose port is published on the machine.
    /// </summary>
    [RegularExpression("^(ClusterIP|NodePort|LoadBalancer)$")]
    public string? ServiceType { get; set; }

    /// <summary>Compute resources of the binhost container.</summary>
    public V1ResourceRequirements? Resources { get; set; }

    /// <summary>Builds on demand: a client's authenticated request for packages not built yet creates a BuildRun.</summary>
    [DefaultJson("{}")]
    public OnDemandSpec? OnDemand { get; set; }
}

/// <summary>
/// Builds on demand: POST /build on the binhost, with a bearer token, asks for packages; those not in the index
/// become one BuildRun (deduplicated against open on-demand runs, at most maxRunsPerHour per builder).
/// </summary>
public sealed class OnDemandSpec
{
    /// <summary>Whether the binhost accepts build requests.</summary>
    [DefaultJson("false")]
    public bool? Enabled { get; set; }

    /// <summary>
    /// The Secret key holding the bearer token clients send (key defaults to token). Empty: the operator makes the
    /// Secret NAME-binhost-token with a random token.
    /// </summary>
    public SecretKeyReference? TokenSecretRef { get; set; }

    /// <summary>How many BuildRuns requests may create per builder in any hour; more are answered 429 with Retry-After.</summary>
    [DefaultJson("6")]
    [Range(1, 1000)]
    public int? MaxRunsPerHour { get; set; }
}

/// <summary>A VolumeSnapshot in the same namespace.</summary>
public sealed class SnapshotReference
{
    /// <summary>Name of the VolumeSnapshot (snapshot.storage.k8s.io) in the same namespace.</summary>
    [Required]
    [MaxSize(253)]
    [RegularExpression(Patterns.ObjectName)]
    public string Name { get; set; } = "";
}

/// <summary>The builder's volumes.</summary>
public sealed class BuilderStorage
{
    /// <summary>The root volume holding the Gentoo system (restored from the bootstrap snapshot).</summary>
    [DefaultJson("{}")]
    public RootVolumeSpec? Root { get; set; }

    /// <summary>The binary package volume (PKGDIR, /var/cache/binpkgs), which the binhost serves.</summary>
    [DefaultJson("{}")]
    public BinpkgsVolumeSpec? Binpkgs { get; set; }

    /// <summary>The source archive volume (DISTDIR, /var/cache/distfiles).</summary>
    [DefaultJson("{}")]
    public DistfilesVolumeSpec? Distfiles { get; set; }

    /// <summary>VolumeSnapshotClass for snapshots of the root volume; empty uses the default class.</summary>
    [MaxSize(253)]
    public string? VolumeSnapshotClassName { get; set; }
}

/// <summary>The root volume.</summary>
public sealed class RootVolumeSpec
{
    /// <summary>Capacity of the root volume.</summary>
    [DefaultJson("\"60Gi\"")]
    [RegularExpression("^[0-9]+(\\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$")]
    public string? Size { get; set; }

    /// <summary>StorageClass of the volume; empty uses the cluster's default class.</summary>
    [MaxSize(253)]
    public string? StorageClassName { get; set; }
}

/// <summary>The binary package volume.</summary>
public sealed class BinpkgsVolumeSpec
{
    /// <summary>Capacity of the binary package volume.</summary>
    [DefaultJson("\"50Gi\"")]
    [RegularExpression("^[0-9]+(\\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$")]
    public string? Size { get; set; }

    /// <summary>StorageClass of the volume; empty uses the cluster's default class.</summary>
    [MaxSize(253)]
    public string? StorageClassName { get; set; }

    /// <summary>Whether the binary packages survive deletion of the GentooBuilder (Retain, the default) or are deleted with it.</summary>
    [DefaultJson("\"Retain\"")]
    public RetainPolicy? RetainPolicy { get; set; }

    /// <summary>
    /// How the volume may be attached. ReadWriteOnce (the default) attaches it to one node, so the binhost follows the
    /// node the builds ran on; ReadWriteMany (NFS, CephFS and the like; the StorageClass must offer it) lets the binhost
    /// run on any node. Immutable, as a volume's access mode is.
    /// </summary>
    [DefaultJson("\"ReadWriteOnce\"")]
    [CelRule("self == oldSelf", "spec.storage.binpkgs.accessMode is immutable: a volume's access mode cannot change")]
    public VolumeAccessMode? AccessMode { get; set; }
}

/// <summary>The source archive volume.</summary>
public sealed class DistfilesVolumeSpec
{
    /// <summary>Capacity of the source archive volume.</summary>
    [DefaultJson("\"20Gi\"")]
    [RegularExpression("^[0-9]+(\\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$")]
    public string? Size { get; set; }

    /// <summary>StorageClass of the volume; empty uses the cluster's default class.</summary>
    [MaxSize(253)]
    public string? StorageClassName { get; set; }
}

/// <summary>When the repositories are re-synced: an interval or a cron schedule, not both.</summary>
[CelRule("!(has(self.interval) && has(self.schedule))", "set either sync.interval or sync.schedule, not both")]
public sealed class SyncSchedule
{
    /// <summary>Re-sync this long after the last sync, as a duration such as "12h".</summary>
    [RegularExpression(Patterns.Duration)]
    public string? Interval { get; set; }

    /// <summary>Re-sync on this cron schedule, for example "0 3 * * *".</summary>
    [RegularExpression(Patterns.Cron)]
    public string? Schedule { get; set; }
}

/// <summary>BuildRuns created on a schedule.</summary>
public sealed class AutoBuild
{
    /// <summary>Cron schedule, for example "0 2 * * *" for nightly builds. Runs never overlap: a due run waits for the active one.</summary>
    [Required]
    [RegularExpression(Patterns.Cron)]
    public string Schedule { get; set; } = "";

    /// <summary>Time zone of the schedule (an IANA name such as "Europe/Berlin"); empty means UTC.</summary>
    [MaxSize(64)]
    public string? TimeZone { get; set; }

    /// <summary>The packages each scheduled BuildRun builds.</summary>
    [DefaultJson("""["@world"]""")]
    [Size(1, 256)]
    [ItemSize(1, 512)]
    [ItemPattern(Patterns.AtomOrSet)]
    [CelRule(Patterns.VersionWithoutOperator, Patterns.VersionWithoutOperatorMessage)]
    public IList<string>? Packages { get; set; }

    /// <summary>Emerge arguments of each scheduled BuildRun; empty uses the BuildRun default.</summary>
    [Size(0, 64)]
    [ItemPattern(Patterns.EmergeArgument)]
    public IList<string>? EmergeArgs { get; set; }

    /// <summary>Sync the repositories before each scheduled build.</summary>
    [DefaultJson("true")]
    public bool? Sync { get; set; }

    /// <summary>Stop creating BuildRuns; the active one, if any, goes on.</summary>
    [DefaultJson("false")]
    public bool? Suspend { get; set; }

    /// <summary>How many succeeded scheduled BuildRuns are kept.</summary>
    [DefaultJson("3")]
    [Range(0, 100)]
    public int? SuccessfulRunsHistoryLimit { get; set; }

    /// <summary>How many failed scheduled BuildRuns are kept.</summary>
    [DefaultJson("3")]
    [Range(0, 100)]
    public int? FailedRunsHistoryLimit { get; set; }
}

/// <summary>
/// Releases: each successful BuildRun records the binary package instances the builder's world needs and the
/// repositories they were built from; the binhost serves the published one, so clients never see half a run.
/// </summary>
public sealed class ReleasePolicy
{
    /// <summary>The newest release becomes the published one. False: a person publishes (gentoobuilder.io/publish).</summary>
    [DefaultJson("true")]
    public bool? AutoPublish { get; set; }

    /// <summary>How many of the newest releases are kept, besides those a person marked (gentoobuilder.io/keep-releases) and the published one. Package files no kept release needs are purged.</summary>
    [DefaultJson("5")]
    [Range(1, 100)]
    public int? Keep { get; set; }

    /// <summary>A --keep-going BuildRun in which some packages failed still makes a release of what it built.</summary>
    [DefaultJson("false")]
    public bool? PublishPartial { get; set; }
}

/// <summary>Snapshots of the root volume taken by the operator.</summary>
public sealed class SnapshotPolicy
{
    /// <summary>Take a snapshot after every successful BuildRun.</summary>
    [DefaultJson("false")]
    public bool? OnSuccess { get; set; }

    /// <summary>How many of the snapshots the operator took are kept; older ones it took are pruned, others never.</summary>
    [DefaultJson("3")]
    [Range(1, 100)]
    public int? Keep { get; set; }
}

/// <summary>Where a GentooBuilder is in its lifecycle.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<BuilderPhase>))]
public enum BuilderPhase
{
    /// <summary>Waiting for its bootstrap, configuration, signing key or volumes (the root being copied or restored).</summary>
    Pending,

    /// <summary>Ready for builds; nothing runs on its volumes.</summary>
    Ready,

    /// <summary>A BuildRun's pod has the volumes.</summary>
    Building,

    /// <summary>A world update runs.</summary>
    Updating,

    /// <summary>The ebuild repositories are being synced.</summary>
    Syncing,

    /// <summary>A person's shell pod has the volumes.</summary>
    Shell,

    /// <summary>A publish pod makes a person's choice of release the published one.</summary>
    Publishing,
}

/// <summary>What the operator observed of a builder.</summary>
public sealed class GentooBuilderStatus : CommonStatus<BuilderPhase>
{
    /// <summary>Names of the builder's PersistentVolumeClaims.</summary>
    public BuilderVolumes? Volumes { get; set; }

    /// <summary>The BuildRun whose pod has the builder's volumes now; maintenance pods wait until it lets go of them.</summary>
    public string? CurrentBuildRun { get; set; }

    /// <summary>The last BuildRun that succeeded.</summary>
    public string? LastSuccessfulBuildRun { get; set; }

    /// <summary>When the repositories were last synced.</summary>
    public DateTime? LastSyncTime { get; set; }

    /// <summary>When the last update (sync and configuration, with the pretend output) completed.</summary>
    public DateTime? LastUpdateTime { get; set; }

    /// <summary>When autoBuild last created a BuildRun.</summary>
    public DateTime? LastScheduleTime { get; set; }

    /// <summary>The kernel build nodes must have at least, and why.</summary>
    public KernelRequirement? RequiredKernel { get; set; }

    /// <summary>Snapshots of the root volume the operator took, newest first.</summary>
    public IList<BuilderSnapshot>? Snapshots { get; set; }

    /// <summary>The last update token acted on (echo of the gentoobuilder.io/update annotation).</summary>
    public string? LastHandledUpdate { get; set; }

    /// <summary>The last rebuild token acted on (echo of the gentoobuilder.io/rebuild annotation).</summary>
    public string? LastHandledRebuild { get; set; }

    /// <summary>The last snapshot token acted on (echo of the gentoobuilder.io/snapshot annotation).</summary>
    public string? LastHandledSnapshot { get; set; }

    /// <summary>Where Portage clients find the binhost (its Service), when it runs; GET binrepos.conf there for the client setup.</summary>
    public string? BinhostUrl { get; set; }

    /// <summary>The Secret holding the token of build requests to the binhost, while builds on demand are on.</summary>
    public string? BuildRequestTokenSecret { get; set; }

    /// <summary>The fingerprint of the key builds sign with; clients trust this key (the binhost's /client-setup.sh).</summary>
    public string? SigningKeyFingerprint { get; set; }

    /// <summary>When that key stops signing, if it expires; a key the operator made is extended a year before this.</summary>
    public DateTime? SigningKeyExpires { get; set; }

    /// <summary>The last shell token acted on (echo of the gentoobuilder.io/shell annotation).</summary>
    public string? LastHandledShell { get; set; }

    /// <summary>The maintenance pod (update, sync or a person's shell) that has the builder's volumes now; BuildRuns wait until it ends.</summary>
    public string? CurrentMaintenance { get; set; }

    /// <summary>How far that pod got (update: sync, then the world update preview), from its progress lines; gone when it ends.</summary>
    public BuildProgress? MaintenanceProgress { get; set; }

    /// <summary>What the last update pod found: the outcome of the world update preview.</summary>
    [MaxSize(4096)]
    public string? LastUpdateResult { get; set; }

    /// <summary>A digest of the Portage configuration the builder last ran an update for; a change runs another.</summary>
    public string? ConfigDigest { get; set; }

    /// <summary>The releases on the binpkgs volume as the last build or publish pod found them.</summary>
    public BuilderReleases? Releases { get; set; }
}

/// <summary>The releases on a builder's binpkgs volume (the volume is the record; this is what the last pod on it saw).</summary>
public sealed class BuilderReleases
{
    /// <summary>The release the binhost serves at /Packages.</summary>
    public string? Published { get; set; }

    /// <summary>Every kept release, oldest first.</summary>
    public IList<ReleaseSummary>? Kept { get; set; }

    /// <summary>The publish request last acted on (echo of the gentoobuilder.io/publish annotation).</summary>
    public string? LastHandledPublish { get; set; }

    /// <summary>What the last purge removed.</summary>
    public ReleasePurge? LastPurge { get; set; }
}

/// <summary>One release.</summary>
public sealed class ReleaseSummary
{
    /// <summary>Its id: releases are numbered from 1 on the volume.</summary>
    public string Id { get; set; } = "";

    /// <summary>When the run that made it finished.</summary>
    public DateTime? Created { get; set; }

    /// <summary>The BuildRun that made it (NAMESPACE/NAME).</summary>
    public string? Run { get; set; }

    /// <summary>How many binary package instances it holds.</summary>
    public int? Packages { get; set; }

    /// <summary>Packages it has that the release before did not.</summary>
    public int? Added { get; set; }

    /// <summary>Packages the release before had that it has not.</summary>
    public int? Removed { get; set; }

    /// <summary>Packages in both, as another version or build.</summary>
    public int? Changed { get; set; }

    /// <summary>Made by a --keep-going run in which some packages failed.</summary>
    public bool? Partial { get; set; }
}

/// <summary>What a purge removed.</summary>
public sealed class ReleasePurge
{
    /// <summary>When the pod that purged ended.</summary>
    public DateTime? Time { get; set; }

    /// <summary>Releases no longer kept.</summary>
    public int? Releases { get; set; }

    /// <summary>Package files no kept release referred to.</summary>
    public int? Files { get; set; }

    /// <summary>Bytes freed.</summary>
    public long? Bytes { get; set; }
}

/// <summary>Names of the builder's PersistentVolumeClaims.</summary>
public sealed class BuilderVolumes
{
    /// <summary>The root volume.</summary>
    public string? Root { get; set; }

    /// <summary>The binary package volume.</summary>
    public string? Binpkgs { get; set; }

    /// <summary>The source archive volume.</summary>
    public string? Distfiles { get; set; }
}

/// <summary>A snapshot of the root volume.</summary>
public sealed class BuilderSnapshot
{
    /// <summary>Name of the VolumeSnapshot.</summary>
    public string? Name { get; set; }

    /// <summary>The BuildRun after which it was taken, if any.</summary>
    public string? BuildRun { get; set; }

    /// <summary>When it was requested.</summary>
    public DateTime? CreationTime { get; set; }

    /// <summary>Whether it can be restored from.</summary>
    public bool? ReadyToUse { get; set; }
}
