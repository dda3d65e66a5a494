using System.Collections.Concurrent;
using System.Diagnostics;
using Gentoo.ApiServer.Api;
using Gentoo.Entities.V1Alpha1;
using Gentoo.Kubernetes.TestServer;
using Gentoo.Operator.Desired;
using Gentoo.Runtime;
using k8s;
using k8s.Models;
using Microsoft.Extensions.Logging.Abstractions;
using Prometheus;

namespace Gentoo.Bench.Operator;

/// <summary>
/// What the benchmark waits on in its namespace: each BuildRun and whether it has a phase yet (the end of a burst), and
/// when each run's first build pod appeared. On the in-process server it is read from the server's own feed of
/// changes, as its kubelet simulator reads it (a watch over HTTP cost the two shared cores and was charged to the
/// operator's time alone); on a real API server from watches, the pods' times being when their events arrive.
/// </summary>
public sealed class BenchFeed : IAsyncDisposable
{
    private readonly CancellationTokenSource stop = new();
    private readonly List<Task> followers = [];

    private BenchFeed()
    {
    }

    /// <summary>Each run of the namespace: has it a phase?</summary>
    public ConcurrentDictionary<string, bool> Phased { get; } = new(StringComparer.Ordinal);

    /// <summary>When each run's first build pod was stored, or seen in a watch (Stopwatch ticks).</summary>
    public ConcurrentDictionary<string, long> PodCreated { get; } = new(StringComparer.Ordinal);

    /// <summary>Whether a pod's time is when the API server stored it (in process) or when its watch event arrived.</summary>
    public bool SeesStores { get; private init; }

    public static BenchFeed FromStore(KubeApiServer server, string ns)
    {
        var feed = new BenchFeed { SeesStores = true };
        var runsType = server.Store.FindType(GroupVersion.Group, GroupVersion.Version, "buildruns")!.Key;
        var podsType = server.Store.FindType("", "v1", "pods")!.Key;
        var changes = server.Store.Subscribe();
        feed.followers.Add(Task.Run(async () =>
        {
            await foreach (var change in changes.ReadAllAsync(feed.stop.Token))
            {
                if (change.TypeKey == podsType && change.Type == "ADDED" && change.New["metadata"]?["labels"]?[DesiredBuildPod.BuildRunLabel]?.GetValue<string>() is { } owner)
                {
                    feed.PodCreated.TryAdd(owner, Stopwatch.GetTimestamp());
                }

                if (change.TypeKey == runsType && ObjectStore.Namespace(change.New) == ns)
                {
                    var name = change.New["metadata"]!["name"]!.GetValue<string>();
                    if (change.Type == "DELETED")
                    {
                        feed.Phased.TryRemove(name, out _);
                    }
                    else
                    {
                        feed.Phased[name] = change.New["status"]?["phase"] is not null;
                    }
                }
            }
        }));
        return feed;
    }

    /// <summary>
    /// The namespace's BuildRuns and build pods through the operator's own informers (list, watch, re-list when the
    /// watch expires), over HTTP as any client's; and the anchor's runs, read and dropped, so that the watch costs the
    /// shared cores as much while the anchor writes as while the operator does (1.22x and 1.36x in two runs on the
    /// in-process server when only the operator's were watched).
    /// </summary>
    public static BenchFeed Watch(IKubernetes kube, string ns, string anchorNs)
    {
        var feed = new BenchFeed();
        var metrics = new OperatorMetrics(new CollectorRegistry());
        var runs = new Informer<BuildRun>(new ResourceApi<BuildRun>(kube), ns, metrics, NullLogger.Instance);
        runs.AddHandler(change =>
        {
            if (change.Type == CacheEventType.Deleted)
            {
                feed.Phased.TryRemove(change.Object.Name(), out _);
            }
            else
            {
                feed.Phased[change.Object.Name()] = change.Object.Status?.Phase is not null;
            }
        });
        var pods = new Informer<V1Pod>(CoreKinds.Pods(kube, labelSelector: DesiredBuildPod.BuildRunLabel), ns, metrics, NullLogger.Instance);
        pods.AddHandler(change =>
        {
            if (change.Type == CacheEventType.Added)
            {
                feed.PodCreated.TryAdd(change.Object.Metadata.Labels[DesiredBuildPod.BuildRunLabel], Stopwatch.GetTimestamp());
            }
        });
        var anchorRuns = new Informer<BuildRun>(new ResourceApi<BuildRun>(kube), anchorNs, metrics, NullLogger.Instance);
        feed.followers.AddRange([runs.RunAsync(feed.stop.Token), pods.RunAsync(feed.stop.Token), anchorRuns.RunAsync(feed.stop.Token)]);
        return feed;
    }

    public async ValueTask DisposeAsync()
    {
        await stop.CancelAsync();
        foreach (var follower in followers)
        {
            try
            {
                await follower;
            }
            catch (OperationCanceledException)
            {
            }
        }

        stop.Dispose();
    }
}
