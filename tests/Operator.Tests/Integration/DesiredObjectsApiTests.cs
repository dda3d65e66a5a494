using Gentoo.Entities.V1Alpha1;
using Gentoo.Operator.Desired;
using Gentoo.Runtime;
using Gentoo.Portage.Kernels;
using k8s;
using k8s.Models;

namespace Gentoo.Operator.Tests.Integration;

/// <summary>The desired objects are valid to the API server as they are: created through KubernetesClient as the reconcilers will.</summary>
[Collection(ClusterCollection.Name)]
public sealed class DesiredObjectsApiTests(TestCluster cluster)
{
    [Fact]
    public async Task Builder_volumes_and_a_build_pod_are_accepted_by_the_api_server()
    {
        var ns = await cluster.CreateNamespaceAsync();
        var builder = await new ResourceApi<GentooBuilder>(cluster.Kube).CreateAsync(new GentooBuilder
        {
            Metadata = new V1ObjectMeta { Name = "plasma-desktop", NamespaceProperty = ns },
            Spec = new GentooBuilderSpec { BootstrapRef = new LocalReference { Name = "plasma-desktop" } },
        }, CancellationToken.None);
        var run = await new ResourceApi<BuildRun>(cluster.Kube).CreateAsync(TestCluster.NewBuildRun(ns, "firefox"), CancellationToken.None);

        foreach (var claim in DesiredVolumes.Builder(builder, RootSource.CopyOf("plasma-desktop-root-bootstrap")))
        {
            var created = await cluster.Kube.CoreV1.CreateNamespacedPersistentVolumeClaimAsync(claim, ns);
            created.Spec.Resources.Requests["storage"].ShouldBe(claim.Spec.Resources.Requests["storage"]);
        }

        var pod = DesiredBuildPod.Build(run, builder, 1, KernelVersion.Parse("6.1"), new PodSettings("gentoo-builder:test"));
        var stored = await cluster.Kube.CoreV1.CreateNamespacedPodAsync(pod, ns);

        stored.Metadata.Name.ShouldBe("firefox-1");
        stored.Spec.Containers.Single().Args.ShouldBe(pod.Spec.Containers.Single().Args);
        stored.Metadata.OwnerReferences.Single().Uid.ShouldBe(run.Metadata.Uid);
    }
}
