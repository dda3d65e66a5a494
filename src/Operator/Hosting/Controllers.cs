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
        return manager;
    }
}
