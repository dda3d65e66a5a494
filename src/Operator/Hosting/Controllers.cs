using Gentoo.Entities.V1Alpha1;
using Gentoo.Operator.Decisions;
using Gentoo.Operator.Desired;
using Gentoo.Operator.Reconcilers;
using Gentoo.Runtime;
using k8s;
using k8s.Models;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Gentoo.Operator.Hosting;

/// <summary>The informers the lifecycle controllers share: one cache per kind, whatever number of controllers read it.</summary>
public sealed class LifecycleCaches
{
    public LifecycleCaches(ControllerManager manager, IKubernetes kube, LifecycleScope scope, OperatorMetrics metrics, ILoggerFactory loggers)
    {
        Informer<T> Add<T>(IListWatch<T> source, bool clusterScoped = false)
            where T : class, IKubernetesObject<V1ObjectMeta>
        {
            var informer = new Informer<T>(source, clusterScoped ? null : scope.Namespace, metrics, loggers.CreateLogger("Informer." + source.Kind.Kind));
            manager.AddInformer(informer);
            return informer;
        }

        // Only our own pods and volumes (they carry the managed-by label): the caches never hold the rest of the cluster's.
        var ours = ObjectLabels.ManagedBy + "=" + ObjectLabels.ManagedByOperator;
        Bootstraps = Add(new ResourceApi<GentooBootstrap>(kube));
        Builders = Add(new ResourceApi<GentooBuilder>(kube));
        Runs = Add(new ResourceApi<BuildRun>(kube));
        Runs.AddIndex(RunsByBuilder);
        Pods = Add(CoreKinds.Pods(kube, ours));
        Claims = Add(CoreKinds.PersistentVolumeClaims(kube, ours));
        // Nodes are cluster-scoped: watched whatever namespace the operator serves.
        Nodes = Add(CoreKinds.Nodes(kube), clusterScoped: true);
    }

    public Informer<GentooBootstrap> Bootstraps { get; }

    public Informer<GentooBuilder> Builders { get; }

    public Informer<BuildRun> Runs { get; }

    /// <summary>
    /// The runs of each builder: the queue asks for them on every change of a run, and reads only that builder's, not a
    /// copy of every run of the namespace (or of every namespace) filtered each time.
    /// </summary>
    public static CacheIndex<BuildRun> RunsByBuilder { get; } = new("builder", run => [BuilderKey(run.Namespace(), run.Spec.BuilderRef.Name)], BuilderQueue.Order);

    public static string BuilderKey(string ns, string builder) => ns + "/" + builder;

    public Informer<V1Pod> Pods { get; }

    public Informer<V1PersistentVolumeClaim> Claims { get; }

    public Informer<V1Node> Nodes { get; }
}

/// <summary>The namespace the lifecycle controllers serve; null is every namespace.</summary>
public sealed record LifecycleScope(string? Namespace);

/// <summary>The informers and controllers the operator runs, wired into one ControllerManager.</summary>
public static class Controllers
{
    /// <summary>
    /// The lifecycle's services: the controller manager, the shared caches (each also as the ICache a reconciler asks
    /// for) and the reconcilers, made from their constructors. <see cref="Register"/> or the Add methods then wire them.
    /// </summary>
    public static IServiceCollection AddLifecycle(this IServiceCollection services, LifecycleSettings settings, string? watchNamespace)
    {
        services.AddSingleton(settings);
        services.AddSingleton(settings.Pods);
        services.AddSingleton(new LifecycleScope(watchNamespace));
        services.AddSingleton<ControllerManager>();
        services.AddSingleton<LifecycleCaches>();
        services.AddSingleton<ICache<GentooBootstrap>>(sp => sp.GetRequiredService<LifecycleCaches>().Bootstraps);
        services.AddSingleton<ICache<GentooBuilder>>(sp => sp.GetRequiredService<LifecycleCaches>().Builders);
        services.AddSingleton<ICache<BuildRun>>(sp => sp.GetRequiredService<LifecycleCaches>().Runs);
        services.AddSingleton<BuildMetrics>();
        services.AddSingleton<ICache<V1Pod>>(sp => sp.GetRequiredService<LifecycleCaches>().Pods);
        services.AddSingleton<ICache<V1PersistentVolumeClaim>>(sp => sp.GetRequiredService<LifecycleCaches>().Claims);
        services.AddSingleton<ICache<V1Node>>(sp => sp.GetRequiredService<LifecycleCaches>().Nodes);
        services.AddSingleton<GentooBootstrapReconciler>();
        services.AddSingleton<GentooBuilderReconciler>();
        services.AddSingleton<BuildRunReconciler>();
        services.AddSingleton<NodeKernelLabeller>();
        return services;
    }

    /// <summary>Every controller of the operator, on the services <see cref="AddLifecycle"/> registered.</summary>
    public static ControllerManager Register(IServiceProvider services)
    {
        var manager = services.GetRequiredService<ControllerManager>();
        var metrics = services.GetRequiredService<OperatorMetrics>();
        var loggers = services.GetRequiredService<ILoggerFactory>();

        // A node's status (a new kernel after a reboot) is what matters, so every change is interesting.
        var nodes = services.GetRequiredService<LifecycleCaches>().Nodes;
        var labeller = services.GetRequiredService<NodeKernelLabeller>();
        manager.AddRunnable(new Controller<V1Node>(nodes, () => labeller, new ControllerOptions { Workers = 2 }, metrics,
            services.GetRequiredService<TimeProvider>(), loggers.CreateLogger("Controller.Node"), _ => true));

        AddBootstraps(services);
        AddBuilders(services);
        AddBuildRuns(services);
        return manager;
    }

    /// <summary>GentooBootstraps, reconciled on their own changes and their pods' and volumes' changes.</summary>
    public static void AddBootstraps(IServiceProvider services)
    {
        var caches = services.GetRequiredService<LifecycleCaches>();
        var reconciler = services.GetRequiredService<GentooBootstrapReconciler>();
        Add(services, new Controller<GentooBootstrap>(caches.Bootstraps, () => reconciler, new ControllerOptions(), Metrics(services), Clock(services),
                Logger(services, "Controller.GentooBootstrap"), SpecMetadataOrPhase<GentooBootstrap, GentooBootstrapStatus, BootstrapPhase>)
            .Owns(caches.Pods)
            .Owns(caches.Claims));
    }

    /// <summary>
    /// GentooBuilders, reconciled on their own changes (status only where a run claims or releases the volumes), their
    /// pods' and volumes' changes, their bootstrap's changes, and their BuildRuns' phase changes (a run that starts or
    /// ends moves the builder's history and snapshots).
    /// </summary>
    public static void AddBuilders(IServiceProvider services)
    {
        var caches = services.GetRequiredService<LifecycleCaches>();
        var builders = caches.Builders;
        var reconciler = services.GetRequiredService<GentooBuilderReconciler>();
        Add(services, new Controller<GentooBuilder>(builders, () => reconciler, new ControllerOptions(), Metrics(services), Clock(services),
                Logger(services, "Controller.GentooBuilder"),
                // A build pod letting go of the volumes is a status write of its run's: a maintenance pod may be waiting for it.
                change => SpecMetadataOrPhase<GentooBuilder, GentooBuilderStatus, BuilderPhase>(change) || change.Old?.Status?.CurrentBuildRun != change.Object.Status?.CurrentBuildRun)
            .Owns(caches.Pods)
            .Owns(caches.Claims)
            .Watches(caches.Bootstraps, bootstrap => builders.List(bootstrap.Namespace()).Where(b => b.Spec.BootstrapRef?.Name == bootstrap.Name()).Select(ObjectKey.Of))
            // A run's progress writes do not concern its builder, nor the comings and goings of runs queued behind
            // another; a run's start, end or deletion, and any change of the run that holds the builder, do.
            .Watches(caches.Runs, run => [new ObjectKey(run.Namespace(), run.Spec.BuilderRef.Name)], change => MovesItsBuilder(caches.Runs, change)));
    }

    private static bool MovesItsBuilder(ICache<BuildRun> runs, CacheEvent<BuildRun> change)
    {
        var run = change.Object;
        if (change.Old is not { } old || change.Type == CacheEventType.Deleted)
        {
            return (run.Status?.AttemptCount ?? 0) > 0 || BuilderQueue.Held(run, SiblingsOf(runs, run));
        }

        return (old.Status?.Phase).IsFinished() != (run.Status?.Phase).IsFinished()
            || old.Status?.AttemptCount != run.Status?.AttemptCount
            || (!Nullable.Equals(old.Status?.Phase, run.Status?.Phase) && BuilderQueue.Held(run, SiblingsOf(runs, run)));
    }

    /// <summary>
    /// BuildRuns, reconciled on their own changes and their pods'. Of a builder's other changes and its runs', each wakes
    /// only the runs it can move on: the next in line when the run that held the builder ends or goes, the holder (and
    /// a run still claiming the volumes) when the builder's status moves, every run when the builder comes, goes or
    /// changes readiness. A thousand queued runs are not reconciled a thousand times each.
    /// </summary>
    public static void AddBuildRuns(IServiceProvider services)
    {
        var caches = services.GetRequiredService<LifecycleCaches>();
        var runs = caches.Runs;
        var reconciler = services.GetRequiredService<BuildRunReconciler>();
        IEnumerable<ObjectKey> NextInLine(string ns, string builder) =>
            BuilderQueue.Holder(OfBuilder(runs, ns, builder)) is { } holder ? [ObjectKey.Of(holder)] : [];

        Add(services, new Controller<BuildRun>(runs, () => reconciler, new ControllerOptions(), Metrics(services), Clock(services),
                Logger(services, "Controller.BuildRun"), SpecMetadataOrPhase<BuildRun, BuildRunStatus, BuildRunPhase>)
            .Owns(caches.Pods)
            .Watches(caches.Builders, builder => RunsOf(runs, builder.Namespace(), builder.Name()), BuilderComesGoesOrTurns)
            .Watches(caches.Builders,
                builder => NextInLine(builder.Namespace(), builder.Name())
                    .Concat(builder.Status?.CurrentBuildRun is { } claimant ? [new ObjectKey(builder.Namespace(), claimant)] : [])
                    .Distinct(),
                change => !BuilderComesGoesOrTurns(change))
            .Watches(runs, run => NextInLine(run.Namespace(), run.Spec.BuilderRef.Name).Where(k => k.Name != run.Name()),
                change => change.Type switch
                {
                    CacheEventType.Deleted => BuilderQueue.Held(change.Object, SiblingsOf(runs, change.Object)),
                    CacheEventType.Updated => change.Old is { } old
                        && (!Nullable.Equals(old.Status?.Phase, change.Object.Status?.Phase) || (old.Metadata.DeletionTimestamp is null && change.Object.Metadata.DeletionTimestamp is not null))
                        && BuilderQueue.Held(old, SiblingsOf(runs, old)),
                    _ => false,
                }));
    }

    /// <summary>A builder made, deleted or about to be, or turning ready or not: what every run of it waits on.</summary>
    private static bool BuilderComesGoesOrTurns(CacheEvent<GentooBuilder> change) =>
        change.Type != CacheEventType.Updated || change.Old is not { } old
        || (old.Metadata.DeletionTimestamp is null) != (change.Object.Metadata.DeletionTimestamp is null)
        || Conditions.IsTrue(old.Status?.Conditions, ConditionTypes.Ready) != Conditions.IsTrue(change.Object.Status?.Conditions, ConditionTypes.Ready);

    private static void Add(IServiceProvider services, IRunnable controller) => services.GetRequiredService<ControllerManager>().AddRunnable(controller);

    private static OperatorMetrics Metrics(IServiceProvider services) => services.GetRequiredService<OperatorMetrics>();

    private static TimeProvider Clock(IServiceProvider services) => services.GetRequiredService<TimeProvider>();

    private static ILogger Logger(IServiceProvider services, string name) => services.GetRequiredService<ILoggerFactory>().CreateLogger(name);

    /// <summary>
    /// Spec and metadata changes, and phase changes too: a reconcile may decide on a cache that has not seen its own last
    /// status write yet, and a phase change is the write that must not go unnoticed (there are few, so no churn).
    /// </summary>
    private static bool SpecMetadataOrPhase<T, TStatus, TPhase>(CacheEvent<T> change)
        where T : class, IKubernetesObject<V1ObjectMeta>, IStatus<TStatus>
        where TStatus : CommonStatus<TPhase>
        where TPhase : struct, Enum =>
        ChangeFilters.SpecOrMetadataChanged(change) || !Nullable.Equals(change.Old?.Status?.Phase, change.Object.Status?.Phase);

    private static IReadOnlyList<BuildRun> OfBuilder(ICache<BuildRun> runs, string ns, string builder) =>
        runs.ByIndex(LifecycleCaches.RunsByBuilder, LifecycleCaches.BuilderKey(ns, builder));

    /// <summary>The runs of <paramref name="run"/>'s builder, itself among them when the cache still has it.</summary>
    private static IReadOnlyList<BuildRun> SiblingsOf(ICache<BuildRun> runs, BuildRun run) => OfBuilder(runs, run.Namespace(), run.Spec.BuilderRef.Name);

    private static IEnumerable<ObjectKey> RunsOf(ICache<BuildRun> runs, string ns, string builder) => OfBuilder(runs, ns, builder).Select(ObjectKey.Of);
}
