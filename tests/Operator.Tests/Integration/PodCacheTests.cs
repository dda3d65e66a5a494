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
    [Fact]
    public async Task The_cache_keeps_no_managed_fields_and_a_status_write_from_it_leaves_the_servers_record()
    {
        var ns = await cluster.CreateNamespaceAsync();
        var pod = Pod("tracked", null);
        // kube-apiserver records a manager on every write; the pod is created with one, as a client that copies one does.
        pod.Metadata.ManagedFields = [new V1ManagedFieldsEntry
        {
            Manager = "kubectl-create",
            Operation = "Update",
            ApiVersion = "v1",
            FieldsType = "FieldsV1",
            FieldsV1 = System.Text.Json.JsonDocument.Parse("""{"f:spec":{"f:containers":{}}}""").RootElement,
        }];
        await cluster.Kube.CoreV1.CreateNamespacedPodAsync(pod, ns);
        var cache = new Informer<V1Pod>(CoreKinds.Pods(cluster.Kube), ns, new OperatorMetrics(Metrics.NewCustomRegistry()), NullLogger.Instance);
        using var stop = new CancellationTokenSource();
        var running = cache.RunAsync(stop.Token);
        try
        {
            await cache.WaitForSyncAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(20));
            var cached = cache.Get(new ObjectKey(ns, "tracked")).ShouldNotBeNull();
            cached.Metadata.ManagedFields.ShouldBeNull();

            cached.Status = new V1PodStatus { Phase = "Pending", Message = "written from the cache" };
            await cluster.Kube.CoreV1.ReplaceNamespacedPodStatusAsync(cached, "tracked", ns);
            var stored = await cluster.Kube.CoreV1.ReadNamespacedPodAsync("tracked", ns);
            stored.Status.Message.ShouldBe("written from the cache");
            stored.Metadata.ManagedFields.ShouldNotBeEmpty("an update without managedFields keeps the ones stored");
            stored.Metadata.ManagedFields.ShouldContain(m => m.Manager == "kubectl-create");
            await Eventually.TrueAsync(() => cache.Get(new ObjectKey(ns, "tracked"))?.Status?.Message == "written from the cache", "the write to reach the cache");
            cache.Get(new ObjectKey(ns, "tracked"))!.Metadata.ManagedFields.ShouldBeNull();
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
