using Gentoo.Entities.V1Alpha1;
using Gentoo.Operator.Desired;
using Gentoo.Operator.Reconcilers;
using Gentoo.Runtime;
using Gentoo.Portage.Signing;
using k8s;
using k8s.Models;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Gentoo.Operator.Hosting;

/// <summary>How the lifecycle controllers pace themselves; the defaults suit a cluster, tests shorten them.</summary>
public sealed record LifecycleSettings(PodSettings Pods)
{
    public TimeSpan? BuildRetryBackoff { get; init; }

    public TimeSpan? ProgressInterval { get; init; }

    public TimeSpan? BootstrapRetryBackoff { get; init; }

    public TimeSpan? SnapshotPoll { get; init; }

    public TimeSpan? AutoBuildPoll { get; init; }

    /// <summary>How soon a bootstrap or builder whose configuration sources are missing looks again (ConfigMaps and Secrets are not watched).</summary>
    public TimeSpan? ConfigPoll { get; init; }

    /// <summary>How soon a builder whose signing key is missing or unusable looks at its Secret again (Secrets are not watched).</summary>
    public TimeSpan? SigningKeyPoll { get; init; }

    /// <summary>Makes a builder's signing key when it brings none: an armored secret key for a user ID and creation time.</summary>
    public Func<string, DateTimeOffset, string> MakeSigningKey { get; init; } = (userId, created) => SigningKeyGenerator.Generate(userId, created);
}

/// <summary>The informers the lifecycle controllers share: one cache per kind, whatever number of controllers read it.</summary>
public sealed class LifecycleCaches
{
    private LifecycleCaches(ControllerManager manager, IKubernetes kube, string? ns, OperatorMetrics metrics, ILoggerFactory loggers)
    {
        Informer<T> Add<T>(IListWatch<T> source)
            where T : class, IKubernetesObject<V1ObjectMeta>
        {
            var informer = new Informer<T>(source, ns, metrics, loggers.CreateLogger("Informer." + source.Kind.Kind));
            manager.AddInformer(informer);
            return informer;
        }

        // Only our own pods and volumes (they carry the managed-by label): the caches never hold the rest of the cluster's.
        var ours = ObjectLabels.ManagedBy + "=" + ObjectLabels.ManagedByOperator;
        Bootstraps = Add(new ResourceApi<GentooBootstrap>(kube));
        Builders = Add(new ResourceApi<GentooBuilder>(kube));
        Runs = Add(new ResourceApi<BuildRun>(kube));
        Pods = Add(CoreKinds.Pods(kube, ours));
        Claims = Add(CoreKinds.PersistentVolumeClaims(kube, ours));
    }

    public Informer<GentooBootstrap> Bootstraps { get; }

    public Informer<GentooBuilder> Builders { get; }

    public Informer<BuildRun> Runs { get; }

    public Informer<V1Pod> Pods { get; }

    public Informer<V1PersistentVolumeClaim> Claims { get; }

    public static LifecycleCaches Add(ControllerManager manager, IKubernetes kube, string? ns, OperatorMetrics metrics, ILoggerFactory loggers) =>
        new(manager, kube, ns, metrics, loggers);
}

/// <summary>The informers and controllers the operator runs, wired into one ControllerManager.</summary>
public static class Controllers
{
    public static ControllerManager Register(IServiceProvider services, OperatorOptions options)
    {
        var kube = services.GetRequiredService<IKubernetes>();
        var metrics = services.GetRequiredService<OperatorMetrics>();
        var loggers = services.GetRequiredService<ILoggerFactory>();
        var clock = services.GetRequiredService<TimeProvider>();
        var manager = ActivatorUtilities.CreateInstance<ControllerManager>(services);

        // Nodes are cluster-scoped: watched whatever namespace the operator serves. Their status (a new kernel after
        // a reboot) is what matters, so every change is interesting.
        var nodes = new Informer<V1Node>(CoreKinds.Nodes(kube), null, metrics, loggers.CreateLogger("Informer.Node"));
        var labeller = new NodeKernelLabeller(kube, nodes, loggers.CreateLogger<NodeKernelLabeller>());
        manager.AddInformer(nodes);
        manager.AddRunnable(new Controller<V1Node>(nodes, () => labeller, new ControllerOptions { Workers = 2 }, metrics, clock, loggers.CreateLogger("Controller.Node"), _ => true));

        var caches = LifecycleCaches.Add(manager, kube, options.WatchNamespace, metrics, loggers);
        var context = new LifecycleContext(manager, caches, kube, new LifecycleSettings(new PodSettings(options.OperatorImage)),
            services.GetRequiredService<EventRecorder>(), metrics, clock, loggers);
        AddBootstraps(context);
        AddBuilders(context);
        AddBuildRuns(context);
        return manager;
    }

    /// <summary>Everything a lifecycle controller is built from.</summary>
    public sealed record LifecycleContext(
        ControllerManager Manager, LifecycleCaches Caches, IKubernetes Kube, LifecycleSettings Settings, EventRecorder Events, OperatorMetrics Metrics,
        TimeProvider Clock, ILoggerFactory Loggers);

    /// <summary>GentooBootstraps, reconciled on their own changes and their pods' and volumes' changes.</summary>
    public static void AddBootstraps(LifecycleContext c)
    {
        var reconciler = new GentooBootstrapReconciler(c.Kube, c.Caches.Bootstraps, c.Caches.Pods, c.Caches.Claims, c.Settings.Pods, c.Events, c.Clock,
            c.Loggers.CreateLogger<GentooBootstrapReconciler>(), c.Settings.BootstrapRetryBackoff, c.Settings.SnapshotPoll, c.Settings.ConfigPoll);
        c.Manager.AddRunnable(new Controller<GentooBootstrap>(c.Caches.Bootstraps, () => reconciler, new ControllerOptions(), c.Metrics, c.Clock,
                c.Loggers.CreateLogger("Controller.GentooBootstrap"), SpecMetadataOrPhase<GentooBootstrap, GentooBootstrapStatus, BootstrapPhase>)
            .Owns(c.Caches.Pods)
            .Owns(c.Caches.Claims));
    }

    /// <summary>
    /// GentooBuilders, reconciled on their own changes (status only where a run claims or releases the volumes), their
    /// pods' and volumes' changes, their bootstrap's changes, and their BuildRuns' phase changes (a run that starts or
    /// ends moves the builder's history and snapshots).
    /// </summary>
    public static void AddBuilders(LifecycleContext c)
    {
        var builders = c.Caches.Builders;
        var reconciler = new GentooBuilderReconciler(c.Kube, builders, c.Caches.Bootstraps, c.Caches.Runs, c.Caches.Pods, c.Caches.Claims, c.Settings.Pods, c.Events,
            c.Clock, c.Loggers.CreateLogger<GentooBuilderReconciler>(), c.Settings.MakeSigningKey, c.Settings.SnapshotPoll, c.Settings.SigningKeyPoll, c.Settings.ConfigPoll);
        c.Manager.AddRunnable(new Controller<GentooBuilder>(builders, () => reconciler, new ControllerOptions(), c.Metrics, c.Clock, c.Loggers.CreateLogger("Controller.GentooBuilder"),
                // A build pod letting go of the volumes is a status write of its run's: a maintenance pod may be waiting for it.
                change => SpecMetadataOrPhase<GentooBuilder, GentooBuilderStatus, BuilderPhase>(change) || change.Old?.Status?.CurrentBuildRun != change.Object.Status?.CurrentBuildRun)
            .Owns(c.Caches.Pods)
            .Owns(c.Caches.Claims)
            .Watches(c.Caches.Bootstraps, bootstrap => builders.List(bootstrap.Namespace()).Where(b => b.Spec.BootstrapRef?.Name == bootstrap.Name()).Select(ObjectKey.Of))
            // A run's progress writes do not concern its builder; its phase changes (start, end) do.
            .Watches(c.Caches.Runs, run => [new ObjectKey(run.Namespace(), run.Spec.BuilderRef.Name)],
                change => change.Type != CacheEventType.Updated || change.Old?.Status?.Phase != change.Object.Status?.Phase));
    }

    /// <summary>
    /// BuildRuns, reconciled on their own changes, on their pods' changes, on their builder's changes, and when a
    /// sibling on the same builder changes (it may have finished and freed the builder).
    /// </summary>
    public static void AddBuildRuns(LifecycleContext c)
    {
        var runs = c.Caches.Runs;
        var reconciler = new BuildRunReconciler(c.Kube, runs, c.Caches.Builders, c.Caches.Bootstraps, c.Caches.Pods, c.Settings.Pods, c.Events, c.Clock,
            c.Loggers.CreateLogger<BuildRunReconciler>(), c.Settings.BuildRetryBackoff, c.Settings.ProgressInterval);
        c.Manager.AddRunnable(new Controller<BuildRun>(runs, () => reconciler, new ControllerOptions(), c.Metrics, c.Clock, c.Loggers.CreateLogger("Controller.BuildRun"),
                SpecMetadataOrPhase<BuildRun, BuildRunStatus, BuildRunPhase>)
            .Owns(c.Caches.Pods)
            .Watches(c.Caches.Builders, builder => RunsOf(runs, builder.Namespace(), builder.Name()))
            .Watches(runs, run => RunsOf(runs, run.Namespace(), run.Spec.BuilderRef.Name).Where(k => k.Name != run.Name())));
    }

    /// <summary>
    /// Spec and metadata changes, and phase changes too: a reconcile may decide on a cache that has not seen its own last
    /// status write yet, and a phase change is the write that must not go unnoticed (there are few, so no churn).
    /// </summary>
    private static bool SpecMetadataOrPhase<T, TStatus, TPhase>(CacheEvent<T> change)
        where T : class, IKubernetesObject<V1ObjectMeta>, IStatus<TStatus>
        where TStatus : CommonStatus<TPhase>
        where TPhase : struct, Enum =>
        ChangeFilters.SpecOrMetadataChanged(change) || !Nullable.Equals(change.Old?.Status?.Phase, change.Object.Status?.Phase);

    private static IEnumerable<ObjectKey> RunsOf(ICache<BuildRun> runs, string ns, string builder) =>
        runs.List(ns).Where(r => r.Spec.BuilderRef.Name == builder).Select(ObjectKey.Of);
}
