using Gentoo.Operator.Desired;
using Gentoo.Operator.Reconcilers;
using Gentoo.Runtime;
using Gentoo.Portage.Kernels;
using k8s;
using k8s.Models;
using Microsoft.Extensions.Logging.Abstractions;
using Prometheus;

namespace Gentoo.Operator.Tests.Integration;

[Collection(ClusterCollection.Name)]
public sealed class NodeKernelLabellerTests(TestCluster cluster)
{
    private async Task<(ControllerManager Manager, CancellationTokenSource Stop)> StartAsync()
    {
        var metrics = new OperatorMetrics(Metrics.NewCustomRegistry());
        var nodes = new Informer<V1Node>(CoreKinds.Nodes(cluster.Kube), null, metrics, NullLogger.Instance);
        var labeller = new NodeKernelLabeller(cluster.Kube, nodes, NullLogger<NodeKernelLabeller>.Instance);
        var manager = new ControllerManager(cluster.Kube, new LeaderElectionSettings { Enabled = false }, metrics, NullLogger<ControllerManager>.Instance);
        manager.AddInformer(nodes);
        manager.AddRunnable(new Controller<V1Node>(nodes, () => labeller, new ControllerOptions(), metrics, TimeProvider.System, NullLogger.Instance, _ => true));
        var stop = new CancellationTokenSource();
        await manager.StartAsync(stop.Token);
        return (manager, stop);
    }

    private async Task<V1Node> CreateNodeAsync(string name, string kernel)
    {
        var node = await cluster.Kube.CoreV1.CreateNodeAsync(new V1Node { Metadata = new V1ObjectMeta { Name = name } });
        return await SetKernelAsync(node, kernel);
    }

    private async Task<V1Node> SetKernelAsync(V1Node node, string kernel)
    {
        var current = await cluster.Kube.CoreV1.ReadNodeAsync(node.Name());
        current.Status ??= new V1NodeStatus();
        current.Status.NodeInfo = new V1NodeSystemInfo
        {
            KernelVersion = kernel,
            Architecture = "amd64",
            BootID = "b",
            ContainerRuntimeVersion = "containerd://1.7.20",
            KubeletVersion = "v1.26.15",
            KubeProxyVersion = "v1.26.15",
            MachineID = "m",
            OperatingSystem = "linux",
            OsImage = "Gentoo Linux",
            SystemUUID = "s",
        };
        return await cluster.Kube.CoreV1.ReplaceNodeStatusAsync(current, node.Name());
    }

    private static string? Label(V1Node node, string key) => node.Metadata.Labels is { } labels && labels.TryGetValue(key, out var value) ? value : null;

    [Fact]
    public async Task Nodes_are_labelled_with_their_kernel_and_relabelled_after_a_kernel_update()
    {
        var name = "gentoo-test-node-" + Guid.NewGuid().ToString("N")[..8];
        var (manager, stop) = await StartAsync();
        try
        {
            var node = await CreateNodeAsync(name, "5.15.0-91-generic");
            await Eventually.GetAsync(() => cluster.Kube.CoreV1.ReadNodeAsync(name),
                n => Label(n, NodeKernel.CodeLabel) == KernelVersion.Parse("5.15.0").Code.ToString(System.Globalization.CultureInfo.InvariantCulture),
                "the node to carry its kernel code");

            await SetKernelAsync(node, "6.6.30-gentoo");

            var relabelled = await Eventually.GetAsync(() => cluster.Kube.CoreV1.ReadNodeAsync(name),
                n => Label(n, NodeKernel.VersionLabel) == "6.6.30", "the node to be relabelled after its kernel changed");
            relabelled.Metadata.Labels[NodeKernel.CodeLabel].ShouldBe("394782");
        }
        finally
        {
            await stop.CancelAsync();
            await manager.StopAsync(CancellationToken.None);
            await cluster.Kube.CoreV1.DeleteNodeAsync(name);
        }
    }

    [TestServerFact]
    public async Task Build_pods_land_only_on_nodes_with_a_new_enough_kernel()
    {
        var ns = await cluster.CreateNamespaceAsync();
        var kubelet = cluster.Server!.Kubelet;
        var suffix = Guid.NewGuid().ToString("N")[..6];
        var (manager, stop) = await StartAsync();
        try
        {
            kubelet.AddNode($"old-{suffix}", "5.15.0-91-generic");
            kubelet.AddNode($"new-{suffix}", "6.6.30-gentoo");
            await Eventually.GetAsync(() => cluster.Kube.CoreV1.ListNodeAsync(),
                list => list.Items.Count(n => n.Name().EndsWith(suffix, StringComparison.Ordinal) && n.Metadata.Labels?.ContainsKey(NodeKernel.CodeLabel) == true) == 2,
                "both nodes to be labelled");

            V1Pod Pod(string name, string kernel) => new()
            {
                Metadata = new V1ObjectMeta { Name = name },
                Spec = new V1PodSpec
                {
                    RestartPolicy = "Never",
                    Containers = [new V1Container { Name = "build", Image = "gentoo/stage3" }],
                    Affinity = new V1Affinity { NodeAffinity = new V1NodeAffinity { RequiredDuringSchedulingIgnoredDuringExecution = NodeKernel.AtLeast(KernelVersion.Parse(kernel)) } },
                },
            };
            await cluster.Kube.CoreV1.CreateNamespacedPodAsync(Pod("needs-6-1", "6.1"), ns);
            await cluster.Kube.CoreV1.CreateNamespacedPodAsync(Pod("needs-7-0", "7.0"), ns);

            var placed = await Eventually.GetAsync(() => cluster.Kube.CoreV1.ReadNamespacedPodAsync("needs-6-1", ns), p => p.Spec.NodeName is not null, "the 6.1 build to be placed");
            placed.Spec.NodeName.ShouldNotStartWith("old-");
            var waiting = await Eventually.GetAsync(() => cluster.Kube.CoreV1.ReadNamespacedPodAsync("needs-7-0", ns),
                p => p.Status.Conditions?.Any(c => c.Reason == "Unschedulable") == true, "the 7.0 build to be unschedulable");
            waiting.Spec.NodeName.ShouldBeNull();
        }
        finally
        {
            await stop.CancelAsync();
            await manager.StopAsync(CancellationToken.None);
            foreach (var node in new[] { $"old-{suffix}", $"new-{suffix}" })
            {
                await cluster.Kube.CoreV1.DeleteNodeAsync(node);
            }
        }
    }
}
