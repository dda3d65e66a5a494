using Gentoo.Entities.V1Alpha1;
using Gentoo.Operator.Desired;
using Gentoo.Operator.Reconcilers;
using Gentoo.Operator.Runtime;
using k8s;
using k8s.Models;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Gentoo.Operator.Hosting;

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

        AddBuildRuns(manager, kube, options.WatchNamespace, new PodSettings(options.OperatorImage), services.GetRequiredService<EventRecorder>(),
            metrics, clock, loggers);
        return manager;
    }

    /// <summary>
    /// The BuildRun controller and the caches it reads. BuildRuns are reconciled on their own changes, on their pods'
    /// changes, on their builder's changes, and when a sibling on the same builder changes (it may have finished and
    /// freed the builder).
    /// </summary>
    public static void AddBuildRuns(
        ControllerManager manager, IKubernetes kube, string? ns, PodSettings settings, EventRecorder events, OperatorMetrics metrics,
        TimeProvider clock, ILoggerFactory loggers, TimeSpan? retryBackoff = null, TimeSpan? progressEvery = null)
    {
        var runs = new Informer<BuildRun>(new ResourceApi<BuildRun>(kube), ns, metrics, loggers.CreateLogger("Informer.BuildRun"));
        var builders = new Informer<GentooBuilder>(new ResourceApi<GentooBuilder>(kube), ns, metrics, loggers.CreateLogger("Informer.GentooBuilder"));
        var bootstraps = new Informer<GentooBootstrap>(new ResourceApi<GentooBootstrap>(kube), ns, metrics, loggers.CreateLogger("Informer.GentooBootstrap"));
        // Only build pods (they carry the BuildRun label): the cache never holds the rest of the cluster's pods.
        var pods = new Informer<V1Pod>(CoreKinds.Pods(kube, DesiredBuildPod.BuildRunLabel), ns, metrics, loggers.CreateLogger("Informer.Pod"));
        manager.AddInformer(runs);
        manager.AddInformer(builders);
        manager.AddInformer(bootstraps);
        manager.AddInformer(pods);

        var reconciler = new BuildRunReconciler(kube, runs, builders, bootstraps, pods, settings, events, clock, loggers.CreateLogger<BuildRunReconciler>(), retryBackoff, progressEvery);
        manager.AddRunnable(new Controller<BuildRun>(runs, () => reconciler, new ControllerOptions(), metrics, clock, loggers.CreateLogger("Controller.BuildRun"))
            .Owns(pods)
            .Watches(builders, builder => RunsOf(runs, builder.Namespace(), builder.Name()))
            .Watches(runs, run => RunsOf(runs, run.Namespace(), run.Spec.BuilderRef.Name).Where(k => k.Name != run.Name())));
    }

    private static IEnumerable<ObjectKey> RunsOf(ICache<BuildRun> runs, string ns, string builder) =>
        runs.List(ns).Where(r => r.Spec.BuilderRef.Name == builder).Select(ObjectKey.Of);
}
