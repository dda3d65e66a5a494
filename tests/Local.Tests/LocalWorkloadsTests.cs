using System.Text.Json.Nodes;
using Docker.DotNet;
using Docker.DotNet.Models;
using Gentoo.Kubernetes.TestServer;
using k8s;
using k8s.Models;

namespace Gentoo.Local.Tests;

/// <summary>Deployments, LoadBalancer Services and claims on one machine: what a controller manager, ServiceLB and a provisioner do.</summary>
public sealed class LocalWorkloadsTests(Xunit.Abstractions.ITestOutputHelper output) : IAsyncLifetime
{
    private readonly string ns = "workloads-" + Guid.NewGuid().ToString("N")[..8];
    private string Node => "machine-" + ns;
    private readonly string state = Directory.CreateTempSubdirectory("gentoo-local-").FullName;
    private readonly CancellationTokenSource stop = new();
    private KubeApiServer server = null!;
    private IKubernetes kube = null!;
    private IDockerClient docker = null!;
    private Task running = Task.CompletedTask;

    public async Task InitializeAsync()
    {
        server = await KubeApiServer.StartAsync();
        server.Kubelet.IgnoredNamespaces[ns] = true;
        kube = new k8s.Kubernetes(server.ClientConfiguration());
        await kube.CoreV1.CreateNamespaceAsync(new V1Namespace { Metadata = new V1ObjectMeta { Name = ns } });
        docker = await LocalDocker.ConnectAsync(null, CancellationToken.None);
    }

    private void Start()
    {
        var options = new DockerKubeletOptions(Node, state) { Resync = TimeSpan.FromMilliseconds(200) };
        var snapshots = new LocalSnapshots(kube, docker, options, DockerFactAttribute.Image, TimeProvider.System, new TestOutputLogger<LocalSnapshots>(output));
        running = Task.WhenAll(
            Task.Run(() => new DockerKubelet(kube, docker, options, TimeProvider.System, new TestOutputLogger<DockerKubelet>(output)).RunAsync(stop.Token)),
            Task.Run(() => new LocalWorkloads(kube, docker, options, new TestOutputLogger<LocalWorkloads>(output), snapshots).RunAsync(stop.Token)));
    }

    /// <summary>Runs a shell command in a container of the Debian image with the volume at /v; what it printed.</summary>
    private async Task<string> RunOnVolumeAsync(string volume, string command)
    {
        var created = await docker.Containers.CreateContainerAsync(new CreateContainerParameters
        {
            Image = DockerFactAttribute.Image,
            Cmd = ["sh", "-c", command],
            Labels = new Dictionary<string, string> { [LocalNames.NamespaceLabel] = ns },
            HostConfig = new HostConfig { Mounts = [new Mount { Type = "volume", Source = volume, Target = "/v" }] },
        });
        await docker.Containers.StartContainerAsync(created.ID, new ContainerStartParameters());
        await docker.Containers.WaitContainerAsync(created.ID);
        using var logs = await docker.Containers.GetContainerLogsAsync(created.ID, new ContainerLogsParameters { ShowStdout = true });
        var (stdout, _) = await logs.ReadOutputToEndAsync(CancellationToken.None);
        await docker.Containers.RemoveContainerAsync(created.ID, new ContainerRemoveParameters { Force = true });
        return stdout;
    }

    private Task<string> ReadVolumeAsync(string volume, string file) => RunOnVolumeAsync(volume, $"cat /v/{file}");

    private static V1PersistentVolumeClaim Claim(string name, V1TypedLocalObjectReference? source = null) => new()
    {
        Metadata = new V1ObjectMeta { Name = name },
        Spec = new V1PersistentVolumeClaimSpec
        {
            AccessModes = ["ReadWriteOnce"],
            Resources = new V1VolumeResourceRequirements { Requests = new Dictionary<string, ResourceQuantity> { ["storage"] = new("1Gi") } },
            DataSource = source,
        },
    };

    public async Task DisposeAsync()
    {
        await stop.CancelAsync();
        await running.ContinueWith(_ => { }, TaskScheduler.Default);
        await DockerCleanup.RemoveNamespaceAsync(docker, ns);

        docker.Dispose();
        kube.Dispose();
        await server.DisposeAsync();
        Directory.Delete(state, recursive: true);
        stop.Dispose();
    }

    private static V1Deployment Server(string greeting) => new()
    {
        Metadata = new V1ObjectMeta { Name = "web" },
        Spec = new V1DeploymentSpec
        {
            Selector = new V1LabelSelector { MatchLabels = new Dictionary<string, string> { ["app"] = "web" } },
            Template = new V1PodTemplateSpec
            {
                Metadata = new V1ObjectMeta { Labels = new Dictionary<string, string> { ["app"] = "web" } },
                Spec = new V1PodSpec
                {
                    TerminationGracePeriodSeconds = 1,
                    Containers =
                    [
                        new V1Container
                        {
                            Name = "http", Image = DockerFactAttribute.Image,
                            Ports = [new V1ContainerPort { Name = "http", ContainerPort = 8080 }],
                            Env = [new V1EnvVar { Name = "GREETING", Value = greeting }],
                            Command =
                            [
                                "perl", "-MIO::Socket::INET", "-e",
                                "$s = IO::Socket::INET->new(LocalPort => 8080, Listen => 5, ReuseAddr => 1) or die $!;"
                                + " while ($c = $s->accept) { <$c>; print $c \"HTTP/1.0 200 OK\\r\\n\\r\\n$ENV{GREETING}\"; close $c }",
                            ],
                        },
                    ],
                },
            },
        },
    };

    private static async Task<string?> GetAsync(int port)
    {
        try
        {
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
            return await http.GetStringAsync(new Uri($"http://127.0.0.1:{port}/"));
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            return null;
        }
    }

    [DockerFact]
    public async Task A_deployment_behind_a_load_balancer_service_answers_on_this_machine_and_a_new_template_replaces_its_pod()
    {
        var port = FreePorts.Next();
        await kube.CoreV1.CreateNamespacedServiceAsync(new V1Service
        {
            Metadata = new V1ObjectMeta { Name = "web" },
            Spec = new V1ServiceSpec
            {
                Type = "LoadBalancer",
                Selector = new Dictionary<string, string> { ["app"] = "web" },
                Ports = [new V1ServicePort { Name = "http", Port = port, TargetPort = "http" }],
            },
        }, ns);
        await kube.AppsV1.CreateNamespacedDeploymentAsync(Server("first"), ns);
        Start();

        (await Eventually.GetAsync(() => GetAsync(port), text => text == "first", "the deployment's pod to answer on the service's port", TimeSpan.FromMinutes(1))).ShouldBe("first");
        var service = await kube.CoreV1.ReadNamespacedServiceAsync("web", ns);
        service.Status.LoadBalancer.Ingress.ShouldHaveSingleItem().Ip.ShouldBe("127.0.0.1");
        var deployment = await Eventually.GetAsync(() => kube.AppsV1.ReadNamespacedDeploymentAsync("web", ns), d => running.IsFaulted || d.Status?.ReadyReplicas == 1, "the deployment to be ready");
        if (running.IsFaulted)
        {
            await running; // a loop stopped: say why
        }

        deployment.Status.Conditions.ShouldContain(c => c.Type == "Available" && c.Status == "True");
        var firstPod = (await kube.CoreV1.ListNamespacedPodAsync(ns)).Items.ShouldHaveSingleItem();
        firstPod.Metadata.OwnerReferences.ShouldHaveSingleItem().Uid.ShouldBe(deployment.Metadata.Uid);

        deployment.Spec.Template = Server("second").Spec.Template;
        await kube.AppsV1.ReplaceNamespacedDeploymentAsync(deployment, "web", ns);

        (await Eventually.GetAsync(() => GetAsync(port), text => text == "second", "the new template's pod to answer", TimeSpan.FromMinutes(1))).ShouldBe("second");
        var pods = await Eventually.GetAsync(() => kube.CoreV1.ListNamespacedPodAsync(ns), list => list.Items.Count == 1, "the old template's pod to be gone");
        pods.Items[0].Metadata.Labels[LocalWorkloads.TemplateHashLabel].ShouldNotBe(firstPod.Metadata.Labels[LocalWorkloads.TemplateHashLabel]);
    }

    [DockerFact]
    public async Task A_claim_is_bound_to_its_docker_volume_which_goes_with_the_claim_but_never_because_a_claim_is_missing_at_start()
    {
        // A volume whose claim is not in the API when local mode starts (its state directory was lost, say) is kept.
        var orphan = LocalNames.ClaimVolume(Node, ns, "lost-state-binpkgs");
        await docker.Volumes.CreateAsync(new VolumesCreateParameters { Name = orphan, Labels = LocalNames.ClaimVolumeLabels(ns, "lost-state-binpkgs", Node) });
        await kube.CoreV1.CreateNamespacedPersistentVolumeClaimAsync(Claim("data"), ns);
        Start();

        var bound = await Eventually.GetAsync(() => kube.CoreV1.ReadNamespacedPersistentVolumeClaimAsync("data", ns), c => c.Status?.Phase == "Bound", "the claim to be bound");
        bound.Spec.VolumeName.ShouldBe(LocalNames.ClaimVolume(Node, ns, "data"));
        bound.Status.Capacity["storage"].ToString().ShouldBe("1Gi");
        (await docker.Volumes.InspectAsync(bound.Spec.VolumeName)).Labels[LocalNames.ClaimLabel].ShouldBe("data");

        await kube.CoreV1.DeleteNamespacedPersistentVolumeClaimAsync("data", ns);
        await Eventually.GetAsync(async () => (await docker.Volumes.ListAsync(new VolumesListParameters())).Volumes.Select(v => v.Name).ToList(),
            names => !names.Contains(bound.Spec.VolumeName), "the deleted claim's volume to be removed");
        (await docker.Volumes.InspectAsync(orphan)).Name.ShouldBe(orphan);
    }

    [DockerFact]
    public async Task A_volume_snapshot_is_a_copy_of_its_claims_volume_a_claim_restores_from_it_and_it_goes_with_the_snapshot()
    {
        await kube.CoreV1.CreateNamespacedPersistentVolumeClaimAsync(Claim("root"), ns);
        Start();
        await Eventually.GetAsync(() => kube.CoreV1.ReadNamespacedPersistentVolumeClaimAsync("root", ns), c => c.Status?.Phase == "Bound", "the claim to be bound");
        await RunOnVolumeAsync(LocalNames.ClaimVolume(Node, ns, "root"), "echo built > /v/world");

        var storage = await kube.StorageV1.ReadStorageClassAsync(LocalSnapshots.ClassName);
        storage.Provisioner.ShouldBe(LocalSnapshots.Driver);
        await kube.CustomObjects.CreateNamespacedCustomObjectAsync(new JsonObject
        {
            ["apiVersion"] = "snapshot.storage.k8s.io/v1",
            ["kind"] = "VolumeSnapshot",
            ["metadata"] = new JsonObject { ["name"] = "after-bootstrap" },
            ["spec"] = new JsonObject { ["volumeSnapshotClassName"] = LocalSnapshots.ClassName, ["source"] = new JsonObject { ["persistentVolumeClaimName"] = "root" } },
        }, "snapshot.storage.k8s.io", "v1", ns, "volumesnapshots");
        var snapshot = await Eventually.GetAsync(
            async () => (System.Text.Json.JsonElement)await kube.CustomObjects.GetNamespacedCustomObjectAsync("snapshot.storage.k8s.io", "v1", ns, "volumesnapshots", "after-bootstrap"),
            s => s.TryGetProperty("status", out var status) && status.TryGetProperty("readyToUse", out var ready) && ready.GetBoolean(), "the snapshot to be ready", TimeSpan.FromMinutes(1));
        snapshot.GetProperty("status").GetProperty("restoreSize").GetString().ShouldBe("1Gi");
        var snapshotVolume = LocalSnapshots.SnapshotVolume(await SnapshotUidAsync("after-bootstrap"));
        (await ReadVolumeAsync(snapshotVolume, "world")).ShouldBe("built\n");

        await kube.CoreV1.CreateNamespacedPersistentVolumeClaimAsync(
            Claim("builder-root", new V1TypedLocalObjectReference { ApiGroup = "snapshot.storage.k8s.io", Kind = "VolumeSnapshot", Name = "after-bootstrap" }), ns);
        await Eventually.GetAsync(() => kube.CoreV1.ReadNamespacedPersistentVolumeClaimAsync("builder-root", ns), c => c.Status?.Phase == "Bound", "the restored claim to be bound", TimeSpan.FromMinutes(1));
        (await ReadVolumeAsync(LocalNames.ClaimVolume(Node, ns, "builder-root"), "world")).ShouldBe("built\n", "a claim is bound only once its snapshot is copied in");

        await kube.CustomObjects.DeleteNamespacedCustomObjectAsync("snapshot.storage.k8s.io", "v1", ns, "volumesnapshots", "after-bootstrap");
        await Eventually.GetAsync(async () => (await docker.Volumes.ListAsync(new VolumesListParameters())).Volumes.Select(v => v.Name).ToList(),
            names => !names.Contains(snapshotVolume), "the deleted snapshot's volume to be removed");
    }

    [DockerFact]
    public async Task What_local_mode_0_1_kept_a_claims_data_and_a_snapshot_in_is_used_and_a_snapshot_whose_data_is_gone_never_binds_an_empty_claim()
    {
        // 0.1 named a claim's volume by namespace and claim: an upgraded machine's claim binds to it, data and all.
        var earlierClaim = $"gentoo-builder.{ns}.kept-binpkgs";
        await docker.Volumes.CreateAsync(new VolumesCreateParameters { Name = earlierClaim, Labels = LocalNames.ClaimVolumeLabels(ns, "kept-binpkgs", Node) });
        await RunOnVolumeAsync(earlierClaim, "echo signed > /v/Packages");
        await kube.CoreV1.CreateNamespacedPersistentVolumeClaimAsync(Claim("kept-binpkgs"), ns);

        // 0.1 named a snapshot's volume by namespace and name; one made then, ready to use, is what an upgraded machine has.
        var earlier = $"gentoo-builder.snapshot.{ns}.before-upgrade";
        await docker.Volumes.CreateAsync(new VolumesCreateParameters { Name = earlier, Labels = LocalNames.ClaimVolumeLabels(ns, "root", Node) });
        await RunOnVolumeAsync(earlier, "echo built-by-0.1 > /v/world");
        await CreateReadySnapshotAsync("before-upgrade");
        await CreateReadySnapshotAsync("data-gone");
        Start();

        await kube.CoreV1.CreateNamespacedPersistentVolumeClaimAsync(
            Claim("restored", new V1TypedLocalObjectReference { ApiGroup = "snapshot.storage.k8s.io", Kind = "VolumeSnapshot", Name = "before-upgrade" }), ns);
        await kube.CoreV1.CreateNamespacedPersistentVolumeClaimAsync(
            Claim("from-nothing", new V1TypedLocalObjectReference { ApiGroup = "snapshot.storage.k8s.io", Kind = "VolumeSnapshot", Name = "data-gone" }), ns);
        await Eventually.GetAsync(() => kube.CoreV1.ReadNamespacedPersistentVolumeClaimAsync("restored", ns), c => c.Status?.Phase == "Bound", "the restored claim to be bound", TimeSpan.FromMinutes(1));
        (await ReadVolumeAsync(LocalNames.ClaimVolume(Node, ns, "restored"), "world")).ShouldBe("built-by-0.1\n");
        var kept = await Eventually.GetAsync(() => kube.CoreV1.ReadNamespacedPersistentVolumeClaimAsync("kept-binpkgs", ns), c => c.Status?.Phase == "Bound", "the kept claim to be bound");
        kept.Spec.VolumeName.ShouldBe(earlierClaim);
        (await ReadVolumeAsync(kept.Spec.VolumeName, "Packages")).ShouldBe("signed\n");

        // Docker would make the missing volume empty on mount; the claim waits instead of being bound with nothing in it.
        await Task.Delay(TimeSpan.FromSeconds(2));
        (await kube.CoreV1.ReadNamespacedPersistentVolumeClaimAsync("from-nothing", ns)).Status?.Phase.ShouldNotBe("Bound");
        (await docker.Volumes.ListAsync(new VolumesListParameters())).Volumes.Select(v => v.Name)
            .ShouldNotContain(LocalSnapshots.SnapshotVolume(await SnapshotUidAsync("data-gone")), "nothing is made where the data should have been");
    }

    /// <summary>A VolumeSnapshot as an earlier run of local mode left it: taken, ready to use.</summary>
    private async Task CreateReadySnapshotAsync(string name)
    {
        await kube.CustomObjects.CreateNamespacedCustomObjectAsync(new JsonObject
        {
            ["apiVersion"] = "snapshot.storage.k8s.io/v1",
            ["kind"] = "VolumeSnapshot",
            ["metadata"] = new JsonObject { ["name"] = name },
            ["spec"] = new JsonObject { ["volumeSnapshotClassName"] = LocalSnapshots.ClassName, ["source"] = new JsonObject { ["persistentVolumeClaimName"] = "root" } },
        }, "snapshot.storage.k8s.io", "v1", ns, "volumesnapshots");
        await kube.CustomObjects.PatchNamespacedCustomObjectStatusAsync(TestPatches.Merge(new { status = new { readyToUse = true } }),
            "snapshot.storage.k8s.io", "v1", ns, "volumesnapshots", name);
    }

    private async Task<string> SnapshotUidAsync(string name) =>
        ((System.Text.Json.JsonElement)await kube.CustomObjects.GetNamespacedCustomObjectAsync("snapshot.storage.k8s.io", "v1", ns, "volumesnapshots", name))
        .GetProperty("metadata").GetProperty("uid").GetString()!;

    [DockerFact]
    public async Task A_claim_re_created_under_its_name_gets_a_fresh_volume_never_the_old_claims_data()
    {
        await kube.CoreV1.CreateNamespacedPersistentVolumeClaimAsync(Claim("scratch"), ns);
        Start();
        var first = await Eventually.GetAsync(() => kube.CoreV1.ReadNamespacedPersistentVolumeClaimAsync("scratch", ns), c => c.Status?.Phase == "Bound", "the claim to be bound");
        await RunOnVolumeAsync(first.Spec.VolumeName, "echo old > /v/left-behind");

        await kube.CoreV1.DeleteNamespacedPersistentVolumeClaimAsync("scratch", ns);
        await Eventually.GetAsync(async () => (await kube.CoreV1.ListNamespacedPersistentVolumeClaimAsync(ns)).Items, claims => claims.Count == 0, "the claim to be gone");
        await kube.CoreV1.CreateNamespacedPersistentVolumeClaimAsync(Claim("scratch"), ns);

        var second = await Eventually.GetAsync(() => kube.CoreV1.ReadNamespacedPersistentVolumeClaimAsync("scratch", ns), c => c.Status?.Phase == "Bound", "the new claim to be bound");
        second.Metadata.Uid.ShouldNotBe(first.Metadata.Uid);
        (await ReadVolumeAsync(second.Spec.VolumeName, "left-behind")).ShouldBeEmpty();
    }
}
