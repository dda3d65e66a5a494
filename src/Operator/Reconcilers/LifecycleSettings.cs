using Gentoo.Operator.Desired;

namespace Gentoo.Operator.Reconcilers;

/// <summary>How the lifecycle controllers pace themselves; the defaults suit a cluster, tests shorten them.</summary>
public sealed record LifecycleSettings(PodSettings Pods)
{
    /// <summary>The wait before the first retry of a transient build failure; it doubles with each further one.</summary>
    public TimeSpan BuildRetryBackoff { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How often a running build's progress lines are read into status.</summary>
    public TimeSpan ProgressInterval { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>The wait before another bootstrap pod after a transient failure.</summary>
    public TimeSpan BootstrapRetryBackoff { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>How often a VolumeSnapshot is looked at until it is ready (snapshots are not watched).</summary>
    public TimeSpan SnapshotPoll { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How soon a bootstrap or builder whose configuration sources are missing looks again (ConfigMaps and Secrets are not watched).</summary>
    public TimeSpan ConfigPoll { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How soon a builder whose signing key is missing or unusable looks at its Secret again (Secrets are not watched).</summary>
    public TimeSpan SigningKeyPoll { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>How soon a reconcile that found its cache behind the stored status looks again (status writes do not wake it).</summary>
    public TimeSpan StaleViewRecheck { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// How soon a run waiting for its builder's volumes, or a deleted run waiting for its pods to stop, looks again; the
    /// builder's and the pods' changes usually bring it back sooner.
    /// </summary>
    public TimeSpan VolumeRecheck { get; init; } = TimeSpan.FromSeconds(5);
}
