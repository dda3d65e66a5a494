using System.ComponentModel.DataAnnotations;
using System.Text.Json.Serialization;
using Gentoo.Entities.Schema;
using k8s.Models;

namespace Gentoo.Entities.V1Alpha1;

/// <summary>The API group and version of every kind in this namespace.</summary>
public static class GroupVersion
{
    public const string Group = "gentoobuilder.io";
    public const string Version = "v1alpha1";
    public const string ApiVersion = Group + "/" + Version;
}

/// <summary>Regular expressions shared by the schemas; RE2-compatible so the API server evaluates them the same way.</summary>
public static class Patterns
{
    /// <summary>A DNS-1123 subdomain, as Kubernetes object names are.</summary>
    public const string ObjectName = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$";

    /// <summary>A Go duration such as <c>90m</c>, <c>6h</c> or <c>1h30m</c>.</summary>
    public const string Duration = "^([0-9]+(\\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$";

    private const string Minute = "([0-5]?[0-9])";
    private const string Hour = "([01]?[0-9]|2[0-3])";
    private const string DayOfMonth = "(0?[1-9]|[12][0-9]|3[01])";
    private const string Month = "(0?[1-9]|1[0-2]|(?i:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec))";
    private const string DayOfWeek = "([0-7]|(?i:sun|mon|tue|wed|thu|fri|sat))";
    private const string Step = "(/[1-9][0-9]*)?";
    private const string MinuteItem = "(\\*|" + Minute + "(-" + Minute + ")?)" + Step;
    private const string HourItem = "(\\*|" + Hour + "(-" + Hour + ")?)" + Step;
    private const string DayOfMonthItem = "(\\*|\\?|" + DayOfMonth + "(-" + DayOfMonth + ")?)" + Step;
    private const string MonthItem = "(\\*|" + Month + "(-" + Month + ")?)" + Step;
    private const string DayOfWeekItem = "(\\*|\\?|" + DayOfWeek + "(-" + DayOfWeek + ")?)" + Step;

    /// <summary>
    /// A five-field cron expression as CronJobs take it (minute 0-59, hour 0-23, day of month 1-31, month 1-12 or
    /// JAN-DEC, day of week 0-7 or SUN-SAT; *, ranges, steps, lists, ? for either day) or one of the @-macros.
    /// </summary>
    public const string Cron = "^(@(yearly|annually|monthly|weekly|daily|midnight|hourly)|"
        + MinuteItem + "(," + MinuteItem + ")*\\s+" + HourItem + "(," + HourItem + ")*\\s+" + DayOfMonthItem + "(," + DayOfMonthItem + ")*\\s+"
        + MonthItem + "(," + MonthItem + ")*\\s+" + DayOfWeekItem + "(," + DayOfWeekItem + ")*)$";

    /// <summary>A kernel release as <c>MAJOR.MINOR</c> or <c>MAJOR.MINOR.PATCH</c>.</summary>
    public const string KernelVersion = "^[0-9]+\\.[0-9]+(\\.[0-9]+)?$";

    private const string Category = "[A-Za-z0-9_][A-Za-z0-9+_.-]*";
    private const string PackageName = "[A-Za-z0-9_][A-Za-z0-9+_-]*";

    /// <summary>Portage's version syntax: numbers, an optional letter, suffixes and a revision (no backslash: it is also written inside CEL strings).</summary>
    private const string Version = "[0-9]+([.][0-9]+)*[a-z]?(_(alpha|beta|pre|rc|p)[0-9]*)*(-r[0-9]+)?";

    /// <summary>
    /// A package set such as <c>@world</c>, or a package atom with optional slot, repository and USE dependencies; an
    /// operator comes with a version (<c>=dev-libs/nss-3.46</c>, <c>=dev-libs/nss-3*</c>, <c>&gt;=dev-libs/nss-3.46</c>),
    /// as emerge requires. A version without its operator is <see cref="VersionWithoutOperator"/>'s to refuse.
    /// </summary>
    public const string AtomOrSet =
        "^(@[A-Za-z0-9_][A-Za-z0-9+_.-]*|!{0,2}(" + Category + "/" + PackageName
        + "|(<|<=|~|>=|>)" + Category + "/" + PackageName + "-" + Version
        + "|=" + Category + "/" + PackageName + "-" + Version + "[*]?"
        + ")(:[A-Za-z0-9_*=][A-Za-z0-9+_.*=/-]*)?(::[A-Za-z0-9_][A-Za-z0-9_-]*)?(\\[[^\\]\\s]+\\])?)$";

    /// <summary>
    /// A list of atoms none of which names a version without an operator (<c>dev-libs/nss-3.46</c>): a package name
    /// cannot end in a version, and emerge asks "did you forget to prefix with '='?". A CEL rule, since the pattern
    /// language (RE2) has no look-ahead to say "a name not ending in a version".
    /// </summary>
    public const string VersionWithoutOperator = "self.all(a, !a.matches('^" + Category + "/" + PackageName + "-" + Version + "([^A-Za-z0-9+_.*-].*)?$'))";

    public const string VersionWithoutOperatorMessage = "a package with a version needs an operator, as emerge requires: write =CATEGORY/NAME-VERSION (or >=, <=, <, >, ~)";

    /// <summary>A USE flag, optionally prefixed with <c>-</c> to turn it off.</summary>
    public const string UseFlag = "^-?[A-Za-z0-9][A-Za-z0-9+_@-]*$";

    /// <summary>A Portage profile path relative to the repository's profiles directory.</summary>
    public const string Profile = "^[A-Za-z0-9_][A-Za-z0-9+_.-]*(/[A-Za-z0-9_][A-Za-z0-9+_.-]*)*$";

    /// <summary>A make.conf variable name.</summary>
    public const string MakeConfVariable = "^[A-Za-z_][A-Za-z0-9_]*$";

    /// <summary>An emerge command-line argument: an option or an atom/set, never a shell construct.</summary>
    public const string EmergeArgument = "^[^\\s;&|`$<>]+$";
}

/// <summary>A reference to another object in the same namespace.</summary>
public sealed class LocalReference
{
    /// <summary>Name of the referenced object, in the same namespace as the referring one.</summary>
    [Required]
    [MaxSize(253)]
    [RegularExpression(Patterns.ObjectName)]
    public string Name { get; set; } = "";
}

/// <summary>How the image's filesystem is pulled; the meaning of Kubernetes' imagePullPolicy.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<PullPolicy>))]
public enum PullPolicy
{
    /// <summary>Pull only when the node does not have the image.</summary>
    IfNotPresent,

    /// <summary>Pull every time a pod starts.</summary>
    Always,

    /// <summary>Never pull; the image must already be on the node.</summary>
    Never,
}

/// <summary>What happens to a volume when the resource that owns it is deleted.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<RetainPolicy>))]
public enum RetainPolicy
{
    /// <summary>Keep the volume (it is released from its owner and stays in the namespace).</summary>
    Retain,

    /// <summary>Delete the volume together with its owner.</summary>
    Delete,
}

/// <summary>How a persistent volume may be attached (the PersistentVolumeClaim's access mode).</summary>
[JsonConverter(typeof(JsonStringEnumConverter<VolumeAccessMode>))]
public enum VolumeAccessMode
{
    /// <summary>Read and written by the pods of one node at a time.</summary>
    ReadWriteOnce,

    /// <summary>Read and written by pods on any number of nodes.</summary>
    ReadWriteMany,
}

/// <summary>Size and class of one persistent volume.</summary>
public sealed class VolumeSpec
{
    /// <summary>Requested capacity, as a Kubernetes quantity (for example 60Gi).</summary>
    [RegularExpression("^[0-9]+(\\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$")]
    public string? Size { get; set; }

    /// <summary>StorageClass of the PersistentVolumeClaim; empty uses the cluster's default class.</summary>
    [MaxSize(253)]
    public string? StorageClassName { get; set; }
}

/// <summary>
/// A block of Portage configuration. Lines are written verbatim into the named file under /etc/portage,
/// in a file the operator manages; files a person added by hand are never touched.
/// </summary>
public sealed class PortageConfig
{
    /// <summary>make.conf variables, for example COMMON_FLAGS, USE, FEATURES, ACCEPT_LICENSE, VIDEO_CARDS.</summary>
    public IDictionary<string, string>? MakeConf { get; set; }

    /// <summary>Lines of package.use: an atom followed by USE flags, for example "media-libs/mesa vulkan".</summary>
    [Size(0, 4096)]
    [ItemSize(1, 1024)]
    public IList<string>? PackageUse { get; set; }

    /// <summary>
    /// Lines of package.accept_keywords, for example "www-client/firefox ~amd64". Prefer slot or package atoms
    /// (":=", no version) over "=cat/pkg-1.2" so that an accepted keyword survives version bumps.
    /// </summary>
    [Size(0, 4096)]
    [ItemSize(1, 1024)]
    public IList<string>? PackageAcceptKeywords { get; set; }

    /// <summary>Lines of package.mask: atoms that must not be installed.</summary>
    [Size(0, 4096)]
    [ItemSize(1, 1024)]
    public IList<string>? PackageMask { get; set; }

    /// <summary>Lines of package.unmask: atoms exempted from a profile or repository mask.</summary>
    [Size(0, 4096)]
    [ItemSize(1, 1024)]
    public IList<string>? PackageUnmask { get; set; }

    /// <summary>Lines of package.license: an atom followed by accepted licenses, for example "www-client/google-chrome google-chrome".</summary>
    [Size(0, 4096)]
    [ItemSize(1, 1024)]
    public IList<string>? PackageLicense { get; set; }

    /// <summary>The world set: atoms and sets the system should have, written to /var/lib/portage/world.</summary>
    [Size(0, 4096)]
    [ListSet]
    [ItemSize(1, 512)]
    [ItemPattern(Patterns.AtomOrSet)]
    public IList<string>? World { get; set; }
}

/// <summary>The outcome class of an emerge run, as the classifier names it.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<FailureClass>))]
public enum FailureClass
{
    /// <summary>Emerge found a dependency cycle it cannot order.</summary>
    CircularDependency,

    /// <summary>A package's REQUIRED_USE is not satisfied; a USE change is needed.</summary>
    UseChangeRequired,

    /// <summary>A package is keyworded only for the unstable branch (~arch); a keyword must be accepted.</summary>
    KeywordChangeRequired,

    /// <summary>A needed package is masked.</summary>
    MaskedPackage,

    /// <summary>A package's license is not accepted.</summary>
    LicenseRequired,

    /// <summary>Two packages want the same slot.</summary>
    SlotConflict,

    /// <summary>A blocker prevents the merge.</summary>
    Blocker,

    /// <summary>An atom names no known package.</summary>
    UnknownAtom,

    /// <summary>A source archive could not be downloaded.</summary>
    FetchFailure,

    /// <summary>A package failed to build in one of its ebuild phases.</summary>
    BuildFailure,

    /// <summary>
    /// A binary package could not be signed, or Portage could not verify one it made or re-used (its gpg runs as an
    /// unprivileged user): the signing key or its verification keyring is at fault, not the package.
    /// </summary>
    SigningFailure,

    /// <summary>A repository could not be synced (emaint sync failed).</summary>
    SyncFailure,

    /// <summary>The build was interrupted: killed, evicted, timed out, or its node was lost.</summary>
    Interrupted,

    /// <summary>The run failed in a way the classifier does not know.</summary>
    Unknown,
}

/// <summary>What went wrong, where, and what would fix it.</summary>
public sealed class FailureInfo
{
    /// <summary>Failure class that names what went wrong.</summary>
    [Required]
    public FailureClass Class { get; set; }

    /// <summary>The package atom involved, when one is known (for example "=dev-libs/nss-3.45").</summary>
    public string? Atom { get; set; }

    /// <summary>The ebuild phase that failed (setup, unpack, prepare, configure, compile, test, install, preinst, postinst), for build failures.</summary>
    public string? Phase { get; set; }

    /// <summary>One-paragraph explanation for a person.</summary>
    [MaxSize(4096)]
    public string? Message { get; set; }

    /// <summary>Portage configuration lines that would fix the failure, as emerge proposed them.</summary>
    [Size(0, 64)]
    public IList<string>? SuggestedFix { get; set; }

    /// <summary>Path of the full build log on the builder's root volume.</summary>
    public string? BuildLog { get; set; }

    /// <summary>The lines of emerge's output that matter, bounded in size.</summary>
    [Size(0, 200)]
    public IList<string>? LogExcerpt { get; set; }
}

/// <summary>The kernel a build must run on, and why.</summary>
public sealed class KernelRequirement
{
    /// <summary>Minimum kernel release, for example "6.1.0".</summary>
    public string? Version { get; set; }

    /// <summary>Where the requirement comes from: Spec, Binaries (ELF ABI notes of built files), or Default.</summary>
    public string? Source { get; set; }

    /// <summary>Some of the files whose ELF note demands this kernel, when it comes from binaries.</summary>
    [Size(0, 20)]
    public IList<string>? Files { get; set; }
}

/// <summary>Labels on what the operator and the binhost make, so that every component finds a builder's objects alike.</summary>
public static class ObjectLabels
{
    public const string ManagedBy = "app.kubernetes.io/managed-by";
    public const string ManagedByOperator = "gentoo-operator";
    public const string Bootstrap = GroupVersion.Group + "/bootstrap";
    public const string Builder = GroupVersion.Group + "/builder";
    public const string Volume = GroupVersion.Group + "/volume";

    /// <summary>
    /// The labels the operator's Deployment carries however it was installed (config/manager or the chart), by which
    /// kubectl gentoo finds it: app.kubernetes.io/part-of=gentoo-builder, app.kubernetes.io/component=operator.
    /// </summary>
    public const string OperatorSelector = "app.kubernetes.io/part-of=gentoo-builder,app.kubernetes.io/component=operator";

    /// <summary>The Lease the operator's replicas elect their leader with.</summary>
    public const string LeaderLease = "gentoo-operator-leader";
}

/// <summary>Request annotations that a person or the kubectl plugin sets; each value is a token acted on once and echoed in status.</summary>
public static class RequestAnnotations
{
    /// <summary>On a BuildRun awaiting a person: start the next attempt.</summary>
    public const string Resume = GroupVersion.Group + "/resume";

    /// <summary>
    /// On a BuildRun: stop it. Its pod gets SIGTERM (emerge finishes its phase; what it built stays) and, once the pod is
    /// gone, the run ends Failed with reason Stopped.
    /// </summary>
    public const string Stop = GroupVersion.Group + "/stop";

    /// <summary>On a BuildRun, together with resume: comma-separated numbers of status.proposedFixes to write as managed configuration.</summary>
    public const string AcceptFixes = GroupVersion.Group + "/accept-fixes";

    /// <summary>On a GentooBuilder: sync repositories and configuration and show what would change (make update).</summary>
    public const string Update = GroupVersion.Group + "/update";

    /// <summary>On a GentooBuilder: start a BuildRun of the autoBuild packages now.</summary>
    public const string Rebuild = GroupVersion.Group + "/rebuild";

    /// <summary>On a GentooBuilder: take a VolumeSnapshot of the root volume now.</summary>
    public const string Snapshot = GroupVersion.Group + "/snapshot";

    /// <summary>On a GentooBootstrap: run the bootstrap again from its first step.</summary>
    public const string Rerun = GroupVersion.Group + "/rerun";

    /// <summary>
    /// On a GentooBuilder: publish this kept release (a rollback, or a release held back by autoPublish: false). While
    /// it is set, new releases are not published automatically; remove it to go back to autoPublish.
    /// </summary>
    public const string Publish = GroupVersion.Group + "/publish";

    /// <summary>On a GentooBuilder: comma-separated release ids retention keeps besides the newest ones.</summary>
    public const string KeepReleases = GroupVersion.Group + "/keep-releases";

    /// <summary>The release ids a keep-releases value lists ("3, 7" is 3 and 7), in its order.</summary>
    public static IReadOnlyList<string> ReleaseIds(string? value) =>
        value?.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries) ?? [];

    /// <summary>On each generated CRD: a digest of its spec, so that a served CRD can be told current or stale (kubectl gentoo check).</summary>
    public const string SchemaDigest = GroupVersion.Group + "/schema-digest";

    /// <summary>On a GentooBuilder: start a shell pod, a ready chroot on the builder's volumes for a person (make bash); builds wait until it ends.</summary>
    public const string Shell = GroupVersion.Group + "/shell";
}

/// <summary>Condition types used by every kind, following the kstatus conventions Argo CD and Flux read.</summary>
public static class ConditionTypes
{
    /// <summary>The summary: True when the resource reached its goal.</summary>
    public const string Ready = "Ready";

    /// <summary>Present (True) only while the operator is working towards the goal.</summary>
    public const string Reconciling = "Reconciling";

    /// <summary>Present (True) only when no progress is possible without a change of spec.</summary>
    public const string Stalled = "Stalled";

    /// <summary>Present (True) only while a person must act; the reason names the failure class, the message says what to do.</summary>
    public const string AwaitingOperator = "AwaitingOperator";
}

/// <summary>CamelCase reasons of the conditions.</summary>
public static class Reasons
{
    public const string Succeeded = "Succeeded";
    public const string Progressing = "Progressing";
    public const string Queued = "Queued";
    public const string Pending = "Pending";
    public const string Running = "Running";
    public const string Failed = "Failed";
    public const string Interrupted = "Interrupted";
    /// <summary>The build pod's node cannot be heard from: the attempt waits for it, or for a person to let it go.</summary>
    public const string NodeUnreachable = "NodeUnreachable";
    public const string Retrying = "Retrying";
    public const string Bootstrapping = "Bootstrapping";
    public const string Snapshotting = "Snapshotting";
    public const string Ready = "Ready";
    public const string AgentError = "AgentError";
    public const string NoProgress = "NoProgress";
    public const string InvalidSpec = "InvalidSpec";
    public const string BuilderNotFound = "BuilderNotFound";
    public const string BootstrapNotFound = "BootstrapNotFound";
    public const string BootstrapNotReady = "BootstrapNotReady";
    public const string NoNodeWithRequiredKernel = "NoNodeWithRequiredKernel";

    /// <summary>The pod's image cannot be pulled (or named); the message names the container, the image and the kubelet's error.</summary>
    public const string ImagePullFailed = "ImagePullFailed";

    /// <summary>The kubelet cannot make the pod's container from its configuration (a missing ConfigMap or Secret key, say).</summary>
    public const string ContainerConfigError = "ContainerConfigError";
    public const string SnapshotNotReady = "SnapshotNotReady";
    public const string Suspended = "Suspended";
    public const string SigningKeyMissing = "SigningKeyMissing";

    /// <summary>An object the operator would make under its name exists and is not this resource's.</summary>
    public const string NameConflict = "NameConflict";

    /// <summary>A volume this resource needs is being deleted; pods still using it keep it (pvc-protection).</summary>
    public const string VolumeTerminating = "VolumeTerminating";

    /// <summary>The attempt ran past spec.timeout and was stopped.</summary>
    public const string Timeout = "Timeout";

    /// <summary>A person stopped the run (gentoobuilder.io/stop).</summary>
    public const string Stopped = "Stopped";
    public const string SigningKeyInvalid = "SigningKeyInvalid";
}

/// <summary>Status fields shared by every kind; each kind has its own phases.</summary>
/// <typeparam name="TPhase">The kind's phases, written as their names.</typeparam>
public abstract class CommonStatus<TPhase>
    where TPhase : struct, Enum
{
    /// <summary>A one-word summary of where the resource is in its lifecycle.</summary>
    public TPhase? Phase { get; set; }

    /// <summary>The metadata.generation the operator last handled.</summary>
    public long? ObservedGeneration { get; set; }

    /// <summary>Ready, Reconciling, Stalled and AwaitingOperator, following the Kubernetes condition conventions.</summary>
    [ListMap("type")]
    public IList<V1Condition>? Conditions { get; set; }

    /// <summary>What failed, when something did.</summary>
    public FailureInfo? Failure { get; set; }
}
