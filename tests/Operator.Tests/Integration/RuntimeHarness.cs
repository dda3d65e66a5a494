using System.Collections.Concurrent;
using Gentoo.Entities.V1Alpha1;
using Gentoo.Operator.Hosting;
using Gentoo.Runtime;
using k8s;
using Microsoft.Extensions.Logging.Abstractions;
using Prometheus;

namespace Gentoo.Operator.Tests.Integration;

/// <summary>A reconciler whose behaviour a test scripts, recording what it saw and how many ran at once per key.</summary>
public sealed class ScriptedReconciler : IReconciler<BuildRun>
{
    private readonly ConcurrentDictionary<ObjectKey, int> running = new();

    public Func<ReconcileRequest, CancellationToken, Task<ReconcileResult>> Behaviour { get; set; } = (_, _) => Task.FromResult(ReconcileResult.Done);

    public ConcurrentQueue<(ObjectKey Key, DateTime At)> Calls { get; } = new();

    public int MaxConcurrentPerKey { get; private set; }

    public async Task<ReconcileResult> ReconcileAsync(ReconcileRequest request, CancellationToken ct)
    {
        var now = running.AddOrUpdate(request.Key, 1, (_, n) => n + 1);
        lock (Calls)
        {
            MaxConcurrentPerKey = Math.Max(MaxConcurrentPerKey, now);
        }

        Calls.Enqueue((request.Key, DateTime.UtcNow));
        try
        {
            return await Behaviour(request, ct);
        }
        finally
        {
            running.AddOrUpdate(request.Key, 0, (_, n) => n - 1);
        }
    }

    public int CallsFor(string name) => Calls.Count(c => c.Key.Name == name);
}

/// <summary>An informer and controller for BuildRuns in one namespace, run by a ControllerManager as the operator runs them.</summary>
public sealed class RuntimeHarness : IAsyncDisposable
{
    private readonly CancellationTokenSource stopping = new();
    private readonly IKubernetes kube;

    public RuntimeHarness(TestCluster cluster, string ns, ScriptedReconciler reconciler, bool leaderElection = false, LeaderElectionSettings? election = null, ControllerOptions? controllerOptions = null)
    {
        kube = cluster.NewClient();
        Metrics = new OperatorMetrics(new CollectorRegistry());
        Api = new ResourceApi<BuildRun>(kube);
        Informer = new Informer<BuildRun>(Api, ns, Metrics, NullLogger.Instance, new InformerOptions { InitialBackoff = TimeSpan.FromMilliseconds(20) });
        Controller = new Controller<BuildRun>(Informer, () => reconciler, controllerOptions ?? new ControllerOptions { Workers = 8 }, Metrics, TimeProvider.System, NullLogger.Instance);
        Manager = new ControllerManager(kube, (election ?? new LeaderElectionSettings()) with { Enabled = leaderElection, Namespace = ns }, Metrics, NullLogger<ControllerManager>.Instance);
        Manager.AddInformer(Informer);
        Manager.AddRunnable(Controller);
    }

    public OperatorMetrics Metrics { get; }

    public ResourceApi<BuildRun> Api { get; }

    public Informer<BuildRun> Informer { get; }

    public Controller<BuildRun> Controller { get; }

    public ControllerManager Manager { get; }

    public async Task StartAsync()
    {
        await Manager.StartAsync(stopping.Token);
        await Informer.WaitForSyncAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(20));
    }

    /// <summary>Stops as a crashed replica would: no graceful release of anything.</summary>
    public async Task StopAsync()
    {
        await stopping.CancelAsync();
        await Manager.StopAsync(CancellationToken.None);
    }

    public async ValueTask DisposeAsync()
    {
        if (!stopping.IsCancellationRequested)
        {
            await StopAsync();
        }

        Manager.Dispose();
        Controller.Dispose();
        stopping.Dispose();
        kube.Dispose();
    }
}
