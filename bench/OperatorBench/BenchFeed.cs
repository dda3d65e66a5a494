using System.Collections.Concurrent;
using System.Diagnostics;
using Gentoo.ApiServer.Api;
using Gentoo.Entities.V1Alpha1;
using Gentoo.Kubernetes.TestServer;
using Gentoo.Operator.Desired;
using Gentoo.Runtime;
using k8s;
using k8s.Autorest;
using k8s.Models;

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
    /// A list and then a watch of the namespace's BuildRuns and build pods, over HTTP as any client's; and of the
    /// anchor's runs, read and dropped, so that the watch costs the shared cores as much while the anchor writes as
    /// while the operator does (1.22x and 1.36x in two runs on the in-process server when only the operator's were watched).
    /// </summary>
    public static BenchFeed Watch(IKubernetes kube, string ns, string anchorNs)
    {
        var feed = new BenchFeed();
        feed.followers.Add(feed.FollowAsync(new ResourceApi<BuildRun>(kube), anchorNs, _ => { }, (_, _) => { }));
        feed.followers.Add(feed.FollowAsync(new ResourceApi<BuildRun>(kube), ns,
            runs =>
            {
                feed.Phased.Clear();
                foreach (var run in runs)
                {
                    feed.Phased[run.Name()] = run.Status?.Phase is not null;
                }
            },
            (type, run) =>
            {
                if (type == WatchEventType.Deleted)
                {
                    feed.Phased.TryRemove(run.Name(), out _);
                }
                else
                {
                    feed.Phased[run.Name()] = run.Status?.Phase is not null;
                }
            }));
        feed.followers.Add(feed.FollowAsync(CoreKinds.Pods(kube, labelSelector: DesiredBuildPod.BuildRunLabel), ns,
            pods =>
            {
                foreach (var pod in pods)
                {
                    feed.PodCreated.TryAdd(pod.Metadata.Labels[DesiredBuildPod.BuildRunLabel], Stopwatch.GetTimestamp());
                }
            },
            (type, pod) =>
            {
                if (type == WatchEventType.Added)
                {
                    feed.PodCreated.TryAdd(pod.Metadata.Labels[DesiredBuildPod.BuildRunLabel], Stopwatch.GetTimestamp());
                }
            }));
        return feed;
    }

    // Lists, then watches from the list's resourceVersion for as long as the server keeps each watch open; an expired
    // version (410) or a failed request starts again from a list.
    private Task FollowAsync<T>(IListWatch<T> source, string ns, Action<IList<T>> replace, Action<WatchEventType, T> apply)
        where T : class, IKubernetesObject<V1ObjectMeta> => Task.Run(async () =>
    {
        while (!stop.IsCancellationRequested)
        {
            try
            {
                var list = await source.ListAsync(ns, stop.Token);
                replace(list.Items);
                var resourceVersion = list.Metadata.ResourceVersion;
                var relist = false;
                while (!relist)
                {
                    await foreach (var (type, item) in source.WatchAsync(ns, resourceVersion, TimeSpan.FromMinutes(5), _ => relist = true, stop.Token))
                    {
                        resourceVersion = item.Metadata.ResourceVersion;
                        if (type != WatchEventType.Bookmark) // a bookmark (the watch asks for them) carries only a resourceVersion
                        {
                            apply(type, item);
                        }
                    }
                }
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is HttpRequestException or HttpOperationException)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(100), CancellationToken.None);
            }
        }
    });

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
