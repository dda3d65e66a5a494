using Microsoft.Extensions.DependencyInjection;
using Prometheus;

namespace Gentoo.Runtime;

/// <summary>What every controller of the runtime is made from, registered once for the operator host and the tests alike.</summary>
public static class RuntimeServices
{
    /// <summary>The clock, the metrics (in their own registry, with the process's), the event recorder and the leader election settings; the caller brings IKubernetes and logging.</summary>
    public static IServiceCollection AddControllerRuntime(this IServiceCollection services, LeaderElectionSettings election)
    {
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton(_ =>
        {
            // The process's own figures beside ours (as controller-runtime serves Go's): memory, the GC heap and its
            // collections, CPU, threads, open handles.
            var registry = Metrics.NewCustomRegistry();
            DotNetStats.Register(registry);
            return registry;
        });
        services.AddSingleton<OperatorMetrics>();
        services.AddSingleton<EventRecorder>();
        services.AddSingleton(election);
        return services;
    }
}
