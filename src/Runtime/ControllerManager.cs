using k8s;
using k8s.LeaderElection;
using k8s.LeaderElection.ResourceLock;
using k8s.Models;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Gentoo.Runtime;

/// <summary>Leader election settings; the defaults are controller-runtime's.</summary>
public sealed record LeaderElectionSettings
{
    /// <summary>Off: this replica leads at once (one replica, or a test).</summary>
    public bool Enabled { get; init; } = true;

    /// <summary>Where the Lease lives.</summary>
    public string Namespace { get; init; } = "default";

    /// <summary>How long in-flight reconciles may take to finish once the replica stops leading or shuts down.</summary>
    public TimeSpan ShutdownTimeout { get; init; } = TimeSpan.FromSeconds(30);

    public string LeaseName { get; init; } = "gentoo-operator-leader";

    public TimeSpan LeaseDuration { get; init; } = TimeSpan.FromSeconds(15);

    public TimeSpan RenewDeadline { get; init; } = TimeSpan.FromSeconds(10);

    public TimeSpan RetryPeriod { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>Unique per replica: the pod name and a random suffix.</summary>
    public string Identity { get; init; } = $"{Environment.MachineName}_{Guid.NewGuid():N}";
}

/// <summary>
/// Runs the informers on every replica (warm caches make failover quick) and the controllers only on the leader:
/// losing the Lease cancels them at once; shutdown stops taking work and lets in-flight reconciles finish.
/// </summary>
public sealed class ControllerManager(
    IKubernetes kube,
    LeaderElectionSettings election,
    OperatorMetrics metrics,
    ILogger<ControllerManager> log) : BackgroundService
{
    private readonly List<Func<CancellationToken, Task>> informers = [];
    private readonly List<Func<CancellationToken, Task>> syncWaits = [];
    private readonly List<IRunnable> runnables = [];
    private volatile bool synced;
    private volatile bool leading;

    public bool HasSynced => synced;

    public bool IsLeader
    {
        get => leading;
        private set
        {
            leading = value;
            metrics.Leader.Set(value ? 1 : 0);
        }
    }

    public void AddInformer<T>(Informer<T> informer)
        where T : class, IKubernetesObject<V1ObjectMeta>
    {
        informers.Add(informer.RunAsync);
        syncWaits.Add(informer.WaitForSyncAsync);
    }

    public void AddRunnable(IRunnable runnable) => runnables.Add(runnable);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var running = informers.Select(run => Task.Run(() => run(stoppingToken), stoppingToken)).ToList();
        try
        {
            await Task.WhenAll(syncWaits.Select(wait => wait(stoppingToken)));
            synced = true;
            log.LogInformation("Caches synced for {Count} informers", informers.Count);
            if (!election.Enabled)
            {
                using var abort = new CancellationTokenSource();
                using var drain = stoppingToken.Register(() => abort.CancelAfter(election.ShutdownTimeout));
                IsLeader = true;
                await LeadAsync(stoppingToken, abort.Token);
                IsLeader = false;
            }
            else
            {
                await ElectAsync(stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }

        await Task.WhenAll(running).ContinueWith(_ => { }, TaskScheduler.Default);
    }

    private async Task ElectAsync(CancellationToken stoppingToken)
    {
        var ns = election.Namespace;
        while (!stoppingToken.IsCancellationRequested)
        {
            var config = new LeaderElectionConfig(new LeaseLock(kube, ns, election.LeaseName, election.Identity))
            {
                LeaseDuration = election.LeaseDuration,
                RenewDeadline = election.RenewDeadline,
                RetryPeriod = election.RetryPeriod,
            };
            using var elector = new LeaderElector(config);
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
            using var abort = new CancellationTokenSource();
            Task? leadership = null;
            elector.OnStartedLeading += () =>
            {
                IsLeader = true;
                log.LogInformation("Became leader {Identity} of Lease {Namespace}/{Lease}", election.Identity, ns, election.LeaseName);
                leadership = LeadAsync(stop.Token, abort.Token);
            };
            elector.OnStoppedLeading += () =>
            {
                IsLeader = false;
                stop.Cancel();
                if (stoppingToken.IsCancellationRequested)
                {
                    // Shutting down: in-flight reconciles may finish, but not past the point where another replica may lead.
                    log.LogInformation("Shutting down: draining in-flight reconciles for up to {Deadline}", election.RenewDeadline);
                    abort.CancelAfter(election.RenewDeadline);
                }
                else
                {
                    log.LogWarning("Lost leadership of Lease {Namespace}/{Lease}; stopping reconcilers", ns, election.LeaseName);
                    abort.Cancel();
                }
            };
            try
            {
                await elector.RunUntilLeadershipLostAsync(stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
            }

            if (leadership is not null)
            {
                await leadership.ContinueWith(_ => { }, TaskScheduler.Default);
            }
        }
    }

    /// <summary>Runs every controller until <paramref name="stop"/>; <paramref name="abort"/> cancels in-flight reconciles.</summary>
    private Task LeadAsync(CancellationToken stop, CancellationToken abort) =>
        Task.WhenAll(runnables.Select(r => Task.Run(async () =>
        {
            try
            {
                await r.RunAsync(stop, abort);
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
            }
        }, CancellationToken.None)));
}
