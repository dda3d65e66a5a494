using System.ComponentModel.DataAnnotations;
using System.Text.Json.Serialization;
using Gentoo.Entities.Schema;
using k8s;
using k8s.Models;

namespace Gentoo.Entities.V1Alpha1;

/// <summary>
/// One build on a GentooBuilder: emerge the given packages with --buildpkg --usepkg into the builder's binary
/// package volume. A failed build waits for a person (AwaitingOperator) by default and resumes where it stopped.
/// </summary>
[KubernetesEntity(Group = GroupVersion.Group, ApiVersion = GroupVersion.Version, Kind = KubeKind, PluralName = KubePlural)]
[ResourceNames(["br"], ["gentoo"])]
[PrinterColumn("Builder", "string", ".spec.builderRef.name", "The GentooBuilder the run builds on")]
[PrinterColumn("Phase", "string", ".status.phase", "Where the run is in its lifecycle")]
[PrinterColumn("Ready", "string", ".status.conditions[?(@.type==\"Ready\")].status", "Whether the run succeeded")]
[PrinterColumn("Reason", "string", ".status.conditions[?(@.type==\"Ready\")].reason", "Why it is or is not ready")]
[PrinterColumn("Built", "integer", ".status.packages.built", "Packages compiled in this run")]
[PrinterColumn("Reused", "integer", ".status.packages.reused", "Binary packages re-used instead of compiled")]
[PrinterColumn("Done", "integer", ".status.progress.done", "Packages done in the current attempt")]
[PrinterColumn("Total", "integer", ".status.progress.total", "Packages the current attempt merges")]
[PrinterColumn("Duration", "string", ".status.duration", "How long the run took or has taken")]
[PrinterColumn("Package", "string", ".status.progress.currentPackage", "The package being built now", Priority = 1)]
[PrinterColumn("Attempts", "integer", ".status.attemptCount", "Pods started for this run", Priority = 1)]
[PrinterColumn("Age", "date", ".metadata.creationTimestamp", "Time since creation")]
[PrinterColumn("Message", "string", ".status.conditions[?(@.type==\"Ready\")].message", "What the Ready condition says")]
public sealed class BuildRun : IKubernetesObject<V1ObjectMeta>, ISpec<BuildRunSpec>, IStatus<BuildRunStatus>
{
    public const string KubeKind = "BuildRun";
    public const string KubePlural = "buildruns";

    /// <summary>APIVersion defines the versioned schema of this representation of an object.</summary>
    public string ApiVersion { get; set; } = GroupVersion.ApiVersion;

    /// <summary>Kind is a string value representing the REST resource this object represents.</summary>
    public string Kind { get; set; } = KubeKind;

    /// <summary>Standard object metadata.</summary>
    public V1ObjectMeta Metadata { get; set; } = new();

    /// <summary>The desired build.</summary>
    [Required]
    public BuildRunSpec Spec { get; set; } = new();

    /// <summary>What the operator observed.</summary>
    public BuildRunStatus Status { get; set; } = new();
}

/// <summary>What happens when a build fails.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<FailurePolicy>))]
public enum FailurePolicy
{
    /// <summary>Keep everything as it is and wait for a person to fix it and resume (the proof of concept's behaviour).</summary>
    AwaitOperator,

    /// <summary>Mark the run Failed; nothing more happens.</summary>
    Fail,

    /// <summary>Retry transient failures (fetch failures, lost nodes, evictions) with backoff, then wait for a person.</summary>
    Retry,
}

/// <summary>Where a BuildRun is in its lifecycle.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<BuildRunPhase>))]
public enum BuildRunPhase
{
    /// <summary>Accepted; waiting for its builder, or an attempt pod is starting.</summary>
    Pending,

    /// <summary>Waiting for the run or maintenance pod that has the builder's volumes.</summary>
    Queued,

    /// <summary>An attempt pod is building.</summary>
    Running,

    /// <summary>A transient failure; the next attempt starts after the backoff.</summary>
    Retrying,

    /// <summary>A person must look (a failure to fix, fixes to accept) and resume.</summary>
    AwaitingOperator,

    /// <summary>Retries are used up or the agent failed; a person may still resume.</summary>
    Stalled,

    /// <summary>Every requested package was built or already current.</summary>
    Succeeded,

    /// <summary>Failed under policy Fail; nothing more happens.</summary>
    Failed,
}

/// <summary>What the phases of a BuildRun mean together.</summary>
public static class BuildRunPhases
{
    /// <summary>Succeeded or Failed: nothing more happens to the run.</summary>
    public static bool IsFinished(this BuildRunPhase? phase) => phase is BuildRunPhase.Succeeded or BuildRunPhase.Failed;
}

/// <summary>What became of one attempt.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<AttemptOutcome>))]
public enum AttemptOutcome
{
    /// <summary>The pod is starting.</summary>
    Pending,

    /// <summary>The pod is building.</summary>
    Running,

    /// <summary>The attempt built what it was asked to.</summary>
    Succeeded,

    /// <summary>A person must act before another attempt can succeed.</summary>
    NeedsOperator,

    /// <summary>A retry may succeed (fetch failure, lost node, eviction, interruption).</summary>
    Transient,

    /// <summary>The agent itself failed, not the build.</summary>
    AgentError,
}

/// <summary>The desired build.</summary>
public sealed class BuildRunSpec
{
    /// <summary>The GentooBuilder to build on, in the same namespace. Cannot be changed.</summary>
    [Required]
    [Immutable]
    public LocalReference BuilderRef { get; set; } = new();

    /// <summary>Atoms and sets to build.</summary>
    [DefaultJson("""["@world"]""")]
    [Size(1, 256)]
    [ItemSize(1, 512)]
    [ItemPattern(Patterns.AtomOrSet)]
    [CelRule(Patterns.VersionWithoutOperator, Patterns.VersionWithoutOperatorMessage)]
    public IList<string>? Packages { get; set; }

    /// <summary>Sync the repositories before building.</summary>
    [DefaultJson("false")]
    public bool? Sync { get; set; }

    /// <summary>
    /// Emerge arguments. --buildpkg and --usepkg are always added, so every built package lands in the binary
    /// package volume and a restarted build re-uses what was already built. Interactive options are refused.
    /// </summary>
    [DefaultJson("""["--update","--deep","--newuse","--with-bdeps=y"]""")]
    [Size(0, 64)]
    [ItemSize(1, 256)]
    [ItemPattern(Patterns.EmergeArgument)]
    [CelRule("self.all(a, a != '--ask' && a != '-a' && !a.startsWith('--ask=') && a != '--pretend' && a != '-p')", "emergeArgs must not contain --ask or --pretend: builds run unattended")]
    public IList<string>? EmergeArgs { get; set; }

    /// <summary>Emerge with --keep-going: build what can be built when some packages fail.</summary>
    [DefaultJson("false")]
    public bool? KeepGoing { get; set; }

    /// <summary>What happens when the build fails.</summary>
    [DefaultJson("{}")]
    public FailureHandling? OnFailure { get; set; }

    /// <summary>Maximum duration of one attempt, such as "12h"; the build is interrupted (and resumable) after it.</summary>
    [RegularExpression(Patterns.Duration)]
    public string? Timeout { get; set; }

    /// <summary>Minimum kernel release of the build node for this run, overriding the builder's when higher.</summary>
    [RegularExpression(Patterns.KernelVersion)]
    public string? MinKernel { get; set; }
}

/// <summary>What happens when a build fails.</summary>
[CelRule("self.policy == 'Retry' || !has(self.retries)", "onFailure.retries applies only to policy Retry")]
public sealed class FailureHandling
{
    /// <summary>AwaitOperator (default) waits for a person; Fail ends the run; Retry retries transient failures first.</summary>
    [DefaultJson("\"AwaitOperator\"")]
    public FailurePolicy? Policy { get; set; }

    /// <summary>How many times a transient failure is retried, with exponential backoff, under policy Retry.</summary>
    [Range(1, 10)]
    public int? Retries { get; set; }
}

/// <summary>What the operator observed of a build.</summary>
public sealed class BuildRunStatus : CommonStatus<BuildRunPhase>
{
    /// <summary>Why a queued run waits: its turn on the builder (whose status.currentBuildRun names the run building), or a maintenance pod on the volumes.</summary>
    public string? WaitingFor { get; set; }

    /// <summary>When the first attempt started.</summary>
    public DateTime? StartTime { get; set; }

    /// <summary>When the run ended.</summary>
    public DateTime? CompletionTime { get; set; }

    /// <summary>How long the run took, or has taken so far, for example "1h12m".</summary>
    public string? Duration { get; set; }

    /// <summary>How many attempts (pods) were started.</summary>
    public int? AttemptCount { get; set; }

    /// <summary>Every attempt, oldest first.</summary>
    public IList<BuildAttempt>? Attempts { get; set; }

    /// <summary>Package counts over all attempts.</summary>
    public PackageCounts? Packages { get; set; }

    /// <summary>Live progress of the running attempt, where Portage reports it.</summary>
    public BuildProgress? Progress { get; set; }

    /// <summary>The kernel this run required of its node, and the highest one its binaries require.</summary>
    public KernelRequirement? RequiredKernel { get; set; }

    /// <summary>Configuration changes emerge proposed, numbered for `kubectl gentoo resume --accept N`.</summary>
    public IList<ProposedFix>? ProposedFixes { get; set; }

    /// <summary>Configuration changes written as managed configuration for this run (accepted or autounmasked).</summary>
    public IList<string>? AppliedFixes { get; set; }

    /// <summary>The last resume token acted on (echo of the gentoobuilder.io/resume annotation).</summary>
    public string? LastHandledResume { get; set; }

    /// <summary>The release this run made on the builder's binpkgs volume, if it made one (or why it did not).</summary>
    public string? Release { get; set; }
}

/// <summary>One pod started for a BuildRun.</summary>
public sealed class BuildAttempt
{
    /// <summary>Attempt number, starting at 1.</summary>
    public int? Number { get; set; }

    /// <summary>Name of the pod.</summary>
    public string? Pod { get; set; }

    /// <summary>The node it ran on.</summary>
    public string? Node { get; set; }

    /// <summary>That node's kernel release.</summary>
    public string? NodeKernel { get; set; }

    /// <summary>When it started.</summary>
    public DateTime? StartTime { get; set; }

    /// <summary>When it ended.</summary>
    public DateTime? EndTime { get; set; }

    /// <summary>The build container's exit code.</summary>
    public int? ExitCode { get; set; }

    /// <summary>What became of the attempt.</summary>
    public AttemptOutcome? Outcome { get; set; }

    /// <summary>The failure class, when it failed.</summary>
    public FailureClass? FailureClass { get; set; }

    /// <summary>The package the failure is about, when it failed.</summary>
    public string? Atom { get; set; }

    /// <summary>Packages merged in this attempt (built or re-used).</summary>
    public int? PackagesMerged { get; set; }
}

/// <summary>Package counts.</summary>
public sealed class PackageCounts
{
    /// <summary>Packages compiled from source.</summary>
    public int? Built { get; set; }

    /// <summary>Binary packages re-used instead of compiled.</summary>
    public int? Reused { get; set; }

    /// <summary>Packages that failed.</summary>
    public int? Failed { get; set; }
}

/// <summary>Live progress of a running build.</summary>
public sealed class BuildProgress
{
    /// <summary>The package being built.</summary>
    public string? CurrentPackage { get; set; }

    /// <summary>Its ebuild phase.</summary>
    public string? Phase { get; set; }

    /// <summary>Packages done in this attempt.</summary>
    public int? Done { get; set; }

    /// <summary>Packages to do in this attempt.</summary>
    public int? Total { get; set; }
}

/// <summary>A configuration change emerge proposed.</summary>
public sealed class ProposedFix
{
    /// <summary>The number to accept it by.</summary>
    public int? Number { get; set; }

    /// <summary>The failure class it fixes.</summary>
    public FailureClass? Class { get; set; }

    /// <summary>The file under /etc/portage it belongs in, for example package.accept_keywords.</summary>
    public string? File { get; set; }

    /// <summary>The configuration lines.</summary>
    public IList<string>? Lines { get; set; }
}

