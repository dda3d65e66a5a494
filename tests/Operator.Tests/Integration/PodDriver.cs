using Gentoo.Kubernetes.TestServer;
using k8s;

namespace Gentoo.Operator.Tests.Integration;

/// <summary>
/// Scheduler and kubelet for one namespace's pods, whatever the API server: the in-process simulator (scheduling by
/// affinity, logs, slow stops) or <see cref="ApiKubelet"/> through the API (envtest, or the in-process server with
/// GENTOO_TEST_API_KUBELET=1). Pods end as a script says, by pod name; what a node or a person does to them is here too.
/// </summary>
public sealed class PodDriver : IAsyncDisposable
{
    private readonly TestCluster cluster;
    private readonly string ns;
    private readonly ApiKubelet? apiKubelet;

    private PodDriver(TestCluster cluster, string ns, ApiKubelet? apiKubelet)
    {
        this.cluster = cluster;
        this.ns = ns;
        this.apiKubelet = apiKubelet;
    }

    /// <summary>Registers a node of <paramref name="labels"/> reporting Linux 6.6.30 and drives <paramref name="ns"/>'s pods.</summary>
    /// <param name="simulator">Prefer the in-process simulator where there is one, even when pods are otherwise driven through the API.</param>
    /// <param name="throughApi">Drive them through the API (<see cref="ApiKubelet"/>) on the in-process server too, whatever the environment says.</param>
    public static async Task<PodDriver> StartAsync(
        TestCluster cluster, string ns, IDictionary<string, string> labels, Func<string, PodScript?> script, bool simulator = false, bool throughApi = false)
    {
        if (cluster.Server is null || throughApi || (TestCluster.DrivesPodsThroughApi && !simulator))
        {
            cluster.Server?.Kubelet.IgnoredNamespaces.TryAdd(ns, true);
            return new PodDriver(cluster, ns, await ApiKubelet.StartAsync(cluster.Kube, ns, "6.6.30-gentoo", labels, script));
        }

        var kubelet = cluster.Server.Kubelet;
        kubelet.AddNode(ApiKubelet.NodeName(ns), "6.6.30-gentoo", labels);
        kubelet.Script = pod => pod["metadata"]!["namespace"]!.GetValue<string>() != ns ? null : script(pod["metadata"]!["name"]!.GetValue<string>());
        return new PodDriver(cluster, ns, null);
    }

    /// <summary>Whether pods are driven through the API (<see cref="ApiKubelet"/>) rather than by the in-process simulator.</summary>
    public bool ThroughApi => apiKubelet is not null;

    /// <summary>Ends a running pod now with the exit code and termination message the agent would leave.</summary>
    public async Task CompleteAsync(string pod, int exitCode, string? message)
    {
        if (apiKubelet is not null)
        {
            await apiKubelet.CompleteAsync(pod, exitCode, message);
        }
        else
        {
            cluster.Server!.Kubelet.Complete(ns, pod, exitCode, message);
        }
    }

    /// <summary>Evicts a running pod as a kubelet under memory pressure does.</summary>
    public async Task EvictAsync(string pod)
    {
        if (apiKubelet is not null)
        {
            await apiKubelet.EvictAsync(pod);
        }
        else
        {
            cluster.Server!.Kubelet.Evict(ns, pod);
        }
    }

    /// <summary>
    /// Loses the node <paramref name="pod"/> runs on (power cut, partition) as the node lifecycle controller reports it;
    /// the node's name. On the shared in-process server the simulator may have placed the pod on any test's node.
    /// </summary>
    public async Task<string> LoseNodeOfAsync(string pod)
    {
        var node = (await cluster.Kube.CoreV1.ReadNamespacedPodAsync(pod, ns)).Spec.NodeName;
        if (apiKubelet is not null)
        {
            await apiKubelet.LoseNodeAsync();
        }
        else
        {
            cluster.Server!.Kubelet.LoseNode(node);
        }

        return node;
    }

    /// <summary>The node lost by <see cref="LoseNodeOfAsync"/> posts its status again.</summary>
    public async Task ReturnNodeAsync(string node)
    {
        if (apiKubelet is not null)
        {
            await apiKubelet.ReturnNodeAsync();
        }
        else
        {
            cluster.Server!.Kubelet.ReturnNode(node);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (apiKubelet is not null)
        {
            await apiKubelet.DisposeAsync();
        }
        else
        {
            cluster.Server!.Kubelet.Script = null;
        }
    }
}
