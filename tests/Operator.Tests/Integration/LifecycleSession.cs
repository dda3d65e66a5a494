using Gentoo.Kubernetes.TestServer;
using Gentoo.Operator.Desired;
using Gentoo.Operator.Hosting;
using Gentoo.Operator.Runtime;
using Microsoft.Extensions.Logging.Abstractions;
using Prometheus;

namespace Gentoo.Operator.Tests.Integration;

/// <summary>
/// A fresh namespace with a node and the chosen lifecycle controllers running against the test cluster, paced for
/// tests. Stopping and starting it again is an operator restart: the new controllers know only what the API holds.
/// </summary>
public sealed class LifecycleSession : IAsyncDisposable
{
    public static readonly LifecycleSettings FastSettings = new(new PodSettings("gentoo-builder:test"))
    {
        BuildRetryBackoff = TimeSpan.FromMilliseconds(200),
        ProgressInterval = TimeSpan.FromMilliseconds(200),
        BootstrapRetryBackoff = TimeSpan.FromMilliseconds(200),
        SnapshotPoll = TimeSpan.FromMilliseconds(200),
        AutoBuildPoll = TimeSpan.FromMilliseconds(200),
    };

    private readonly TestCluster cluster;
    private readonly Action<Controllers.LifecycleContext>[] controllers;
    private ControllerManager? manager;
    private CancellationTokenSource? stop;

    private LifecycleSession(TestCluster cluster, string ns, Action<Controllers.LifecycleContext>[] controllers)
    {
        this.cluster = cluster;
        Namespace = ns;
        this.controllers = controllers;
    }

    public string Namespace { get; }

    /// <summary>Pods of this session's namespace end as <paramref name="script"/> says (by pod name); other pods are left alone.</summary>
    public static async Task<LifecycleSession> StartAsync(TestCluster cluster, Func<string, PodScript?> script, params Action<Controllers.LifecycleContext>[] controllers)
    {
        var ns = await cluster.CreateNamespaceAsync();
        var kubelet = cluster.Server!.Kubelet;
        kubelet.AddNode("node-" + ns, "6.6.30-gentoo");
        kubelet.Script = pod => pod["metadata"]!["namespace"]!.GetValue<string>() != ns ? null : script(pod["metadata"]!["name"]!.GetValue<string>());
        var session = new LifecycleSession(cluster, ns, controllers);
        await session.StartControllersAsync();
        return session;
    }

    public async Task StartControllersAsync()
    {
        var metrics = new OperatorMetrics(Metrics.NewCustomRegistry());
        manager = new ControllerManager(cluster.Kube, new OperatorOptions { LeaderElection = false }, new LeaderElectionSettings(), metrics, NullLogger<ControllerManager>.Instance);
        var context = new Controllers.LifecycleContext(manager, LifecycleCaches.Add(manager, cluster.Kube, Namespace, metrics, NullLoggerFactory.Instance), cluster.Kube,
            FastSettings, new EventRecorder(cluster.Kube, TimeProvider.System, NullLogger<EventRecorder>.Instance), metrics, TimeProvider.System, NullLoggerFactory.Instance);
        foreach (var add in controllers)
        {
            add(context);
        }

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
        manager = null;
    }

    public async ValueTask DisposeAsync()
    {
        cluster.Server!.Kubelet.Script = null;
        await StopControllersAsync();
    }
}
