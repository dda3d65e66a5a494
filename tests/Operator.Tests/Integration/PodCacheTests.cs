using Gentoo.Operator.Desired;
using Gentoo.Runtime;
using k8s;
using k8s.Models;
using Microsoft.Extensions.Logging.Abstractions;
using Prometheus;

namespace Gentoo.Operator.Tests.Integration;

[Collection(ClusterCollection.Name)]
public sealed class PodCacheTests(TestCluster cluster)
{
    private static V1Pod Pod(string name, IDictionary<string, string>? labels) => new()
    {
        Metadata = new V1ObjectMeta { Name = name, Labels = labels },
        Spec = new V1PodSpec { RestartPolicy = "Never", Containers = [new V1Container { Name = "main", Image = "busybox" }] },
    };

    [Fact]
    public async Task The_build_pod_cache_holds_only_pods_carrying_the_buildrun_label()
    {
        var ns = await cluster.CreateNamespaceAsync();
        await cluster.Kube.CoreV1.CreateNamespacedPodAsync(Pod("unrelated-before", null), ns);
        await cluster.Kube.CoreV1.CreateNamespacedPodAsync(Pod("firefox-1", new Dictionary<string, string> { [DesiredBuildPod.BuildRunLabel] = "firefox" }), ns);
        var cache = new Informer<V1Pod>(CoreKinds.Pods(cluster.Kube, DesiredBuildPod.BuildRunLabel), ns,
            new OperatorMetrics(Metrics.NewCustomRegistry()), NullLogger.Instance);
        using var stop = new CancellationTokenSource();
        var running = cache.RunAsync(stop.Token);
        try
        {
            await cache.WaitForSyncAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(20));
            await cluster.Kube.CoreV1.CreateNamespacedPodAsync(Pod("unrelated-after", null), ns);
            await cluster.Kube.CoreV1.CreateNamespacedPodAsync(Pod("firefox-2", new Dictionary<string, string> { [DesiredBuildPod.BuildRunLabel] = "firefox" }), ns);

            await Eventually.TrueAsync(() => cache.Get(new ObjectKey(ns, "firefox-2")) is not null, "the labelled pod created later to be cached");
            cache.List(ns).Select(p => p.Name()).Order().ShouldBe(["firefox-1", "firefox-2"]);
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
}
