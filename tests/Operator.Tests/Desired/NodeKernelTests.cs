using Gentoo.Operator.Desired;
using Gentoo.Portage.Kernels;
using k8s.Models;

namespace Gentoo.Operator.Tests.Desired;

public sealed class NodeKernelTests
{
    private static V1Node Node(string? kernel = null, Dictionary<string, string>? labels = null) => new()
    {
        Metadata = new V1ObjectMeta { Name = "n", Labels = labels },
        Status = kernel is null ? null : new V1NodeStatus { NodeInfo = new V1NodeSystemInfo { KernelVersion = kernel } },
    };

    [Fact]
    public void Kernel_comes_from_the_kubelet_else_our_label_else_node_feature_discovery()
    {
        NodeKernel.Of(Node("6.6.30+rpt-rpi-v8")).ShouldBe(new KernelVersion(6, 6, 30));
        NodeKernel.Of(Node(labels: new() { [NodeKernel.CodeLabel] = "393472" })).ShouldBe(new KernelVersion(6, 1, 0));
        NodeKernel.Of(Node(labels: new() { [NodeKernel.NfdFull] = "5.15.0-91-generic" })).ShouldBe(new KernelVersion(5, 15, 0));
        NodeKernel.Of(Node(labels: new() { [NodeKernel.NfdMajor] = "6", [NodeKernel.NfdMinor] = "8" })).ShouldBe(new KernelVersion(6, 8, 0));
        NodeKernel.Of(Node()).ShouldBeNull();
    }

    [Fact]
    public void Labels_carry_the_version_and_the_integer_code()
    {
        NodeKernel.Labels(KernelVersion.Parse("6.6.30")).ShouldBe(new Dictionary<string, string>
        {
            ["gentoobuilder.io/kernel-version"] = "6.6.30",
            ["gentoobuilder.io/kernel-code"] = "394782",
        });
    }

    [Fact]
    public void Affinity_requires_at_least_the_kernel_through_our_label_or_node_feature_discovery()
    {
        var terms = NodeKernel.AtLeast(KernelVersion.Parse("6.1.0")).NodeSelectorTerms;

        terms.Select(t => string.Join(" && ", t.MatchExpressions.Select(e => $"{e.Key} {e.OperatorProperty} {string.Join(",", e.Values ?? [])}".Trim()))).ShouldBe([
            "gentoobuilder.io/kernel-code Gt 393471",
            "gentoobuilder.io/kernel-code DoesNotExist && feature.node.kubernetes.io/kernel-version.major Gt 6",
            "gentoobuilder.io/kernel-code DoesNotExist && feature.node.kubernetes.io/kernel-version.major In 6 && feature.node.kubernetes.io/kernel-version.minor Gt 1",
            "gentoobuilder.io/kernel-code DoesNotExist && feature.node.kubernetes.io/kernel-version.major In 6 && feature.node.kubernetes.io/kernel-version.minor In 1 && feature.node.kubernetes.io/kernel-version.revision Gt -1",
        ]);
    }
}
