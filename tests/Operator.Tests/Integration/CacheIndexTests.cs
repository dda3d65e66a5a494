using Gentoo.Runtime;
using k8s;
using k8s.Models;
using Microsoft.Extensions.Logging.Abstractions;
using Prometheus;

namespace Gentoo.Operator.Tests.Integration;

[Collection(ClusterCollection.Name)]
public sealed class CacheIndexTests(TestCluster cluster)
{
    private static readonly CacheIndex<V1Pod> ByTeam = new("team", pod => pod.Metadata.Labels?.TryGetValue("team", out var team) == true ? [team] : []);

    // Ordered by a label each change may move, last name first among equals.
    private static readonly CacheIndex<V1Pod> ByTeamInRank = new("team-in-rank", pod => pod.Metadata.Labels?.TryGetValue("team", out var team) == true ? [team] : [],
        Comparer<V1Pod>.Create((a, b) => string.CompareOrdinal(Rank(a), Rank(b)) is var byRank and not 0 ? byRank : string.CompareOrdinal(b.Name(), a.Name())));

    private static string Rank(V1Pod pod) => pod.Metadata.Labels?.TryGetValue("rank", out var rank) == true ? rank : "";

    private static V1Pod Pod(string name, string? team) => new()
    {
        Metadata = new V1ObjectMeta { Name = name, Labels = team is null ? null : new Dictionary<string, string> { ["team"] = team } },
        Spec = new V1PodSpec { RestartPolicy = "Never", Containers = [new V1Container { Name = "main", Image = "busybox" }] },
    };

    [Fact]
    public async Task An_index_follows_each_object_as_it_is_created_moved_and_deleted()
    {
        var ns = await cluster.CreateNamespaceAsync();
        await cluster.Kube.CoreV1.CreateNamespacedPodAsync(Pod("a", "blue"), ns);
        await cluster.Kube.CoreV1.CreateNamespacedPodAsync(Pod("b", "blue"), ns);
        await cluster.Kube.CoreV1.CreateNamespacedPodAsync(Pod("c", "green"), ns);
        await cluster.Kube.CoreV1.CreateNamespacedPodAsync(Pod("d", null), ns);
        var cache = new Informer<V1Pod>(CoreKinds.Pods(cluster.Kube), ns, new OperatorMetrics(Metrics.NewCustomRegistry()), NullLogger.Instance);
        cache.AddIndex(ByTeam);
        var seenByHandler = new List<string>();
        cache.AddHandler(change =>
        {
            // A handler runs after the index has the change: what it wakes finds the object where it now belongs.
            if (change.Type == CacheEventType.Updated && change.Object.Name() == "b")
            {
                lock (seenByHandler)
                {
                    seenByHandler.AddRange(cache.ByIndex(ByTeam, "green").Select(p => p.Name()));
                }
            }
        });
        using var stop = new CancellationTokenSource();
        var running = cache.RunAsync(stop.Token);
        try
        {
            await cache.WaitForSyncAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(20));
            Names(cache, "blue").ShouldBe(["a", "b"]);
            Names(cache, "green").ShouldBe(["c"]);
            Names(cache, "red").ShouldBeEmpty();
            var blueBefore = cache.ByIndex(ByTeam, "blue");

            await cluster.Kube.CoreV1.PatchNamespacedPodAsync(
                new V1Patch("{\"metadata\":{\"labels\":{\"team\":\"green\"}}}", V1Patch.PatchType.MergePatch), "b", ns);
            // For a moment b is under both (filed under green before it leaves blue): a reader never misses it.
            await Eventually.TrueAsync(() => Names(cache, "green").Count == 2 && Names(cache, "blue").Count == 1, "b to move from blue to green");
            Names(cache, "green").ShouldBe(["b", "c"]);
            Names(cache, "blue").ShouldBe(["a"]);
            blueBefore.Select(p => p.Name()).Order(StringComparer.Ordinal).ToList().ShouldBe(["a", "b"], customMessage: "what a reader was given stays as it was");
            lock (seenByHandler)
            {
                seenByHandler.ShouldContain("b");
            }

            await cluster.Kube.CoreV1.DeleteNamespacedPodAsync("a", ns);
            await Eventually.TrueAsync(() => cache.Get(new ObjectKey(ns, "a")) is null, "a to leave the cache");
            Names(cache, "blue").ShouldBeEmpty();
            Should.Throw<InvalidOperationException>(() => cache.ByIndex(new CacheIndex<V1Pod>("team", _ => []), "blue"))
                .Message.ShouldContain("keeps no index team", customMessage: "an index is found by its own object, not by a name");
        }
        finally
        {
            await stop.CancelAsync();
            try
            {
                await running;
            }
            catch (OperationCanceledException)
            {
            }
        }
    }

    [Fact]
    public async Task Objects_that_leave_from_the_middle_of_an_index_leave_each_other_in_place()
    {
        var ns = await cluster.CreateNamespaceAsync();
        foreach (var name in new[] { "p1", "p2", "p3", "p4", "p5" })
        {
            await cluster.Kube.CoreV1.CreateNamespacedPodAsync(Pod(name, "blue"), ns);
        }

        var cache = new Informer<V1Pod>(CoreKinds.Pods(cluster.Kube), ns, new OperatorMetrics(Metrics.NewCustomRegistry()), NullLogger.Instance);
        cache.AddIndex(ByTeam);
        cache.AddIndex(ByTeamInRank);
        using var stop = new CancellationTokenSource();
        var running = cache.RunAsync(stop.Token);
        try
        {
            await cache.WaitForSyncAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(20));
            InRank(cache).ShouldBe(["p5", "p4", "p3", "p2", "p1"]);
            await cluster.Kube.CoreV1.DeleteNamespacedPodAsync("p2", ns);
            await Eventually.TrueAsync(() => Names(cache, "blue").Count == 4, "p2 to leave the index");
            Names(cache, "blue").ShouldBe(["p1", "p3", "p4", "p5"]);
            await Eventually.TrueAsync(() => InRank(cache).Count == 4, "p2 to leave the ordered index");
            InRank(cache).ShouldBe(["p5", "p4", "p3", "p1"]);

            // Every one that is left is found where it is now: each changes once more and leaves once more.
            foreach (var name in new[] { "p5", "p1", "p4", "p3" })
            {
                await cluster.Kube.CoreV1.PatchNamespacedPodAsync(
                    new V1Patch("{\"metadata\":{\"labels\":{\"team\":\"blue\",\"seen\":\"yes\",\"rank\":\"" + name + "\"}}}", V1Patch.PatchType.MergePatch), name, ns);
            }

            await Eventually.TrueAsync(() => cache.ByIndex(ByTeam, "blue").Concat(cache.ByIndex(ByTeamInRank, "blue")).All(p => p.Metadata.Labels.ContainsKey("seen")), "every change to be filed");
            Names(cache, "blue").ShouldBe(["p1", "p3", "p4", "p5"]);
            InRank(cache).ShouldBe(["p1", "p3", "p4", "p5"], "each change moved its pod to its new place in the order");
            foreach (var (name, left) in new[] { ("p4", 3), ("p1", 2), ("p5", 1), ("p3", 0) })
            {
                await cluster.Kube.CoreV1.DeleteNamespacedPodAsync(name, ns);
                await Eventually.TrueAsync(() => Names(cache, "blue").Count == left && InRank(cache).Count == left, $"{name} to leave the indexes");
                Names(cache, "blue").ShouldNotContain(name);
                InRank(cache).ShouldBe(Names(cache, "blue"));
            }
        }
        finally
        {
            await stop.CancelAsync();
            try
            {
                await running;
            }
            catch (OperationCanceledException)
            {
            }
        }
    }

    private static List<string> InRank(Informer<V1Pod> cache) => [.. cache.ByIndex(ByTeamInRank, "blue").Select(p => p.Name())];

    private static List<string> Names(Informer<V1Pod> cache, string team) => [.. cache.ByIndex(ByTeam, team).Select(p => p.Name()).Order(StringComparer.Ordinal)];
}
