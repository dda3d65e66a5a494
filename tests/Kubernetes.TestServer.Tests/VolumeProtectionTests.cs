using Gentoo.Kubernetes.TestServer;
using Gentoo.ApiServer.Api;
using k8s;
using k8s.Models;

namespace Gentoo.Kubernetes.TestServer.Tests;

/// <summary>
/// The test server and its kubelet hold volumes as Kubernetes 1.26 does, so what a real cluster refuses is refused
/// here too: pvc-protection keeps a claim any pod names (finished ones too), the scheduler does not place a pod whose
/// claim is being deleted, and a kubelet cannot start a pod that mounts one claim twice.
/// </summary>
public sealed class VolumeProtectionTests : IAsyncLifetime
{
    private KubeApiServer server = null!;
    private k8s.Kubernetes kube = null!;

    public async Task InitializeAsync()
    {
        server = await KubeApiServer.StartAsync(new EmbeddedApiServerOptions());
        kube = new k8s.Kubernetes(server.ClientConfiguration());
        await kube.CoreV1.CreateNamespaceAsync(new V1Namespace { Metadata = new V1ObjectMeta { Name = "t" } });
        server.Kubelet.AddNode("node", "6.6.30-gentoo");
    }

    public async Task DisposeAsync()
    {
        kube.Dispose();
        await server.DisposeAsync();
    }

    private Task<V1PersistentVolumeClaim> ClaimAsync(string name) => kube.CoreV1.CreateNamespacedPersistentVolumeClaimAsync(new V1PersistentVolumeClaim
    {
        Metadata = new V1ObjectMeta { Name = name },
        Spec = new V1PersistentVolumeClaimSpec
        {
            AccessModes = ["ReadWriteOnce"],
            Resources = new V1VolumeResourceRequirements { Requests = new Dictionary<string, ResourceQuantity> { ["storage"] = new("1Gi") } },
        },
    }, "t");

    private Task<V1Pod> PodAsync(string name, params (string Volume, string Claim)[] volumes) => kube.CoreV1.CreateNamespacedPodAsync(new V1Pod
    {
        Metadata = new V1ObjectMeta { Name = name },
        Spec = new V1PodSpec
        {
            RestartPolicy = "Never",
            Containers = [new V1Container { Name = "build", Image = "gentoo/stage3", VolumeMounts = [.. volumes.Select(v => new V1VolumeMount { Name = v.Volume, MountPath = "/mnt/" + v.Volume })] }],
            Volumes = [.. volumes.Select(v => new V1Volume { Name = v.Volume, PersistentVolumeClaim = new V1PersistentVolumeClaimVolumeSource { ClaimName = v.Claim } })],
        },
    }, "t");

    private async Task<V1Pod> EventuallyAsync(string pod, Func<V1Pod, bool> done)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (true)
        {
            var current = await kube.CoreV1.ReadNamespacedPodAsync(pod, "t");
            if (done(current) || DateTime.UtcNow > deadline)
            {
                return current;
            }

            await Task.Delay(20);
        }
    }

    [Fact]
    public async Task A_claim_any_pod_names_finished_ones_included_stays_terminating_until_the_pod_is_deleted()
    {
        (await ClaimAsync("root")).Metadata.Finalizers.ShouldBe([ObjectStore.PvcProtection]);
        await PodAsync("build-1", ("root", "root"));
        (await EventuallyAsync("build-1", p => p.Status.Phase == "Running")).Status.Phase.ShouldBe("Running");
        server.Kubelet.Complete("t", "build-1", 0);

        await kube.CoreV1.DeleteNamespacedPersistentVolumeClaimAsync("root", "t");

        var held = await kube.CoreV1.ReadNamespacedPersistentVolumeClaimAsync("root", "t");
        held.Metadata.DeletionTimestamp.ShouldNotBeNull("a finished pod still names it");
        await PodAsync("copy", ("root", "root"));
        var waiting = await EventuallyAsync("copy", p => p.Status.Conditions?.Any(c => c.Type == "PodScheduled") == true);
        waiting.Spec.NodeName.ShouldBeNull();
        waiting.Status.Conditions.Single(c => c.Type == "PodScheduled").Message.ShouldContain("persistentvolumeclaim \"root\" is being deleted");

        await kube.CoreV1.DeleteNamespacedPodAsync("build-1", "t");
        await kube.CoreV1.DeleteNamespacedPodAsync("copy", "t");
        (await kube.CoreV1.ListNamespacedPersistentVolumeClaimAsync("t")).Items.ShouldBeEmpty("no pod names it any more");
    }

    [Fact]
    public async Task A_pod_that_mounts_one_claim_twice_is_scheduled_but_never_starts()
    {
        await ClaimAsync("root");

        await PodAsync("copy", ("source", "root"), ("root", "root"));

        var stuck = await EventuallyAsync("copy", p => p.Status.ContainerStatuses?.Any(c => c.State.Waiting is not null) == true);
        stuck.Spec.NodeName.ShouldBe("node");
        stuck.Status.Phase.ShouldBe("Pending");
        stuck.Status.ContainerStatuses.Single().State.Waiting.Message.ShouldContain("unmounted volumes=[root]");
    }

    [Fact]
    public async Task A_claims_spec_is_immutable_but_its_volume_name_once_and_a_bound_claims_storage_request()
    {
        var claim = await ClaimAsync("fixed");
        claim.Spec.AccessModes = ["ReadWriteMany"];
        var refused = await Should.ThrowAsync<k8s.Autorest.HttpOperationException>(() => kube.CoreV1.ReplaceNamespacedPersistentVolumeClaimAsync(claim, "fixed", "t"));
        refused.Response.StatusCode.ShouldBe(System.Net.HttpStatusCode.UnprocessableEntity);
        refused.Response.Content.ShouldContain("spec is immutable after creation except resources.requests for bound claims");

        claim = await kube.CoreV1.ReadNamespacedPersistentVolumeClaimAsync("fixed", "t");
        claim.Spec.VolumeName = "pv-1";
        claim = await kube.CoreV1.ReplaceNamespacedPersistentVolumeClaimAsync(claim, "fixed", "t");
        claim.Spec.VolumeName = "pv-2";
        await Should.ThrowAsync<k8s.Autorest.HttpOperationException>(() => kube.CoreV1.ReplaceNamespacedPersistentVolumeClaimAsync(claim, "fixed", "t"));

        claim = await kube.CoreV1.ReadNamespacedPersistentVolumeClaimAsync("fixed", "t");
        claim.Status.Phase = "Bound";
        claim = await kube.CoreV1.ReplaceNamespacedPersistentVolumeClaimStatusAsync(claim, "fixed", "t");
        claim.Spec.Resources.Requests["storage"] = new ResourceQuantity("2Gi");
        (await kube.CoreV1.ReplaceNamespacedPersistentVolumeClaimAsync(claim, "fixed", "t")).Spec.Resources.Requests["storage"].ToString().ShouldBe("2Gi");
    }
}
