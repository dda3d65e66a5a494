using Gentoo.Kubernetes.TestServer;
using Gentoo.Operator.Desired;
using Gentoo.Operator.Hosting;
using Gentoo.Operator.Reconcilers;
using Gentoo.Runtime;
using k8s;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Prometheus;

namespace Gentoo.Operator.Tests.Integration;

/// <summary>
/// A fresh namespace with a node and the chosen lifecycle controllers running against the test cluster, paced for
/// tests. Its pods end as a script says: through the in-process kubelet simulator, or through the API
/// (<see cref="ApiKubelet"/>) on envtest. Stopping and starting the controllers again is an operator restart: the new
/// controllers know only what the API holds.
/// </summary>
public sealed class LifecycleSession : IAsyncDisposable
{
    public static readonly LifecycleSettings FastSettings = new(new PodSettings("gentoo-builder:test"))
    {
        BuildRetryBackoff = TimeSpan.FromMilliseconds(200),
        ProgressInterval = TimeSpan.FromMilliseconds(200),
        BootstrapRetryBackoff = TimeSpan.FromMilliseconds(200),
        SnapshotPoll = TimeSpan.FromMilliseconds(200),
        SigningKeyPoll = TimeSpan.FromMilliseconds(200),
        ConfigPoll = TimeSpan.FromMilliseconds(200),
    };

    private readonly Action<IServiceProvider>[] controllers;
    private readonly PodDriver pods;
    private readonly IKubernetes operatorKube;
    private ServiceProvider? services;
    private ControllerManager? manager;
    private CancellationTokenSource? stop;

    private LifecycleSession(string ns, Action<IServiceProvider>[] controllers, PodDriver pods, IKubernetes operatorKube)
    {
        this.operatorKube = operatorKube;
        Namespace = ns;
        this.controllers = controllers;
        this.pods = pods;
    }

    public string Namespace { get; }

    /// <summary>Pods of this session's namespace end as <paramref name="script"/> says (by pod name); null keeps one running.</summary>
    public static Task<LifecycleSession> StartAsync(TestCluster cluster, Func<string, PodScript?> script, params Action<IServiceProvider>[] controllers) =>
        StartAsync(cluster, script, simulator: false, cluster.Kube, controllers);

    /// <summary>The same, with the controllers talking to the API server through <paramref name="operatorKube"/>.</summary>
    public static Task<LifecycleSession> StartAsync(TestCluster cluster, Func<string, PodScript?> script, IKubernetes operatorKube, params Action<IServiceProvider>[] controllers) =>
        StartAsync(cluster, script, simulator: false, operatorKube, controllers);

    /// <summary>The same, with the in-process simulator for what only it does: scheduling by affinity, logs, slow stops.</summary>
    public static Task<LifecycleSession> StartSimulatedAsync(TestCluster cluster, Func<string, PodScript?> script, params Action<IServiceProvider>[] controllers) =>
        StartAsync(cluster, script, simulator: true, cluster.Kube, controllers);

    /// <summary>
    /// The same, with pods driven through the API (<see cref="ApiKubelet"/>) on any API server: what envtest runs, kept
    /// in step with the simulator on every run of the suite.
    /// </summary>
    public static Task<LifecycleSession> StartThroughApiAsync(TestCluster cluster, Func<string, PodScript?> script, params Action<IServiceProvider>[] controllers) =>
        StartAsync(cluster, script, simulator: false, cluster.Kube, controllers, throughApi: true);

    private static async Task<LifecycleSession> StartAsync(
        TestCluster cluster, Func<string, PodScript?> script, bool simulator, IKubernetes operatorKube, Action<IServiceProvider>[] controllers, bool throughApi = false)
    {
        var ns = await cluster.CreateNamespaceAsync();
        var pods = await PodDriver.StartAsync(cluster, ns, new Dictionary<string, string> { ["kubernetes.io/arch"] = "amd64" }, script, simulator, throughApi);
        var session = new LifecycleSession(ns, controllers, pods, operatorKube);
        await session.StartControllersAsync();
        return session;
    }

    /// <summary>Scheduler and kubelet of this session's pods, and what nodes and people do to them.</summary>
    public PodDriver Pods => pods;

    public async Task StartControllersAsync()
    {
        services = new ServiceCollection()
            .AddSingleton(operatorKube)
            .AddSingleton<ILoggerFactory>(NullLoggerFactory.Instance)
            .AddSingleton(typeof(ILogger<>), typeof(Logger<>))
            .AddControllerRuntime(new LeaderElectionSettings { Enabled = false })
            .AddLifecycle(FastSettings, Namespace)
            .BuildServiceProvider();
        foreach (var add in controllers)
        {
            add(services);
        }

        manager = services.GetRequiredService<ControllerManager>();
        stop = new CancellationTokenSource();
        await manager.StartAsync(stop.Token);
    }

    public async Task StopControllersAsync()
    {
        if (manager is null)
        {
            return;
        }

        await stop!.CancelAsync();
        await manager.StopAsync(CancellationToken.None);
        stop.Dispose();
        await services!.DisposeAsync();
        manager = null;
    }

    public async ValueTask DisposeAsync()
    {
        await StopControllersAsync();
        await pods.DisposeAsync();
    }
}
