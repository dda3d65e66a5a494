using Docker.DotNet;
using Docker.DotNet.Models;
using Gentoo.Kubernetes.TestServer;
using k8s;
using k8s.Models;

namespace Gentoo.Local.Tests;

/// <summary>Pods of an API server run as real containers of this machine's Docker engine.</summary>
public sealed class DockerKubeletTests(Xunit.Abstractions.ITestOutputHelper output) : IAsyncLifetime
{
    private readonly string ns = "local-" + Guid.NewGuid().ToString("N")[..8];
    // Each test its own Node: the kubelets of tests running at once share one engine, and each removes what is not its own.
    private string Node => "machine-" + ns;
    private readonly string state = Directory.CreateTempSubdirectory("gentoo-local-").FullName;
    private CancellationTokenSource stop = new();
    private KubeApiServer server = null!;
    private IKubernetes kube = null!;
    private IDockerClient docker = null!;
    private Task kubelet = Task.CompletedTask;

    public async Task InitializeAsync()
    {
        server = await KubeApiServer.StartAsync();
        server.Kubelet.IgnoredNamespaces[ns] = true; // this namespace's pods are the Docker kubelet's
        kube = new k8s.Kubernetes(server.ClientConfiguration());
        await kube.CoreV1.CreateNamespaceAsync(new V1Namespace { Metadata = new V1ObjectMeta { Name = ns } });
        docker = await LocalDocker.ConnectAsync(null, CancellationToken.None);
        await StartKubeletAsync();
    }

    private async Task StartKubeletAsync(TimeSpan? resync = null)
    {
        stop = new CancellationTokenSource();
        var options = new DockerKubeletOptions(Node, state) { Resync = resync ?? TimeSpan.FromMilliseconds(200) };
        // The kubelet runs pods whose claims are bound; LocalWorkloads binds them, as local mode runs the two together.
        kubelet = Task.WhenAll(
            Task.Run(() => new DockerKubelet(kube, docker, options, TimeProvider.System, new TestOutputLogger<DockerKubelet>(output)).RunAsync(stop.Token)),
            Task.Run(() => new LocalWorkloads(kube, docker, options, new TestOutputLogger<LocalWorkloads>(output)).RunAsync(stop.Token)));
        var registered = DateTime.UtcNow.AddSeconds(-1);
        await Eventually.GetAsync(() => kube.CoreV1.ListNodeAsync(),
            nodes => kubelet.IsCompleted || nodes.Items.Any(n => n.Name() == Node && n.Status?.Conditions?.Any(c => c.LastHeartbeatTime >= registered) == true),
            "this machine to register as a Node");
        if (kubelet.IsCompleted)
        {
            await kubelet; // it stopped: say why
        }
    }

    private async Task StopKubeletAsync()
    {
        await stop.CancelAsync();
        await kubelet.ContinueWith(_ => { }, TaskScheduler.Default);
        stop.Dispose();
    }

    public async Task DisposeAsync()
    {
        await StopKubeletAsync();
        await DockerCleanup.RemoveNamespaceAsync(docker, ns);

        docker.Dispose();
        kube.Dispose();
        await server.DisposeAsync();
        Directory.Delete(state, recursive: true);
    }

    private static V1Container Shell(string name, string script) =>
        new() { Name = name, Image = DockerFactAttribute.Image, Command = ["sh", "-c", script] };

    private async Task<V1Pod> CreatePodAsync(string name, V1Container main, V1Container? init = null, int grace = 30)
    {
        var pod = new V1Pod
        {
            Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = ns },
            Spec = new V1PodSpec
            {
                RestartPolicy = "Never",
                TerminationGracePeriodSeconds = grace,
                InitContainers = init is null ? null : [init],
                Containers = [main],
                Volumes =
                [
                    new V1Volume { Name = "data", PersistentVolumeClaim = new V1PersistentVolumeClaimVolumeSource { ClaimName = "shared" } },
                    new V1Volume { Name = "config", ConfigMap = new V1ConfigMapVolumeSource { Name = "greeting" } },
                ],
            },
        };
        foreach (var container in pod.Spec.Containers.Concat(pod.Spec.InitContainers ?? []))
        {
            container.VolumeMounts = [new V1VolumeMount { Name = "data", MountPath = "/data" }, new V1VolumeMount { Name = "config", MountPath = "/config" }];
        }

        return await kube.CoreV1.CreateNamespacedPodAsync(pod, ns);
    }

    /// <summary>A pod with one container and no volumes.</summary>
    private Task<V1Pod> CreateBarePodAsync(string name, V1Container container, long? deadlineSeconds = null) =>
        kube.CoreV1.CreateNamespacedPodAsync(new V1Pod
        {
            Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = ns },
            Spec = new V1PodSpec { RestartPolicy = "Never", ActiveDeadlineSeconds = deadlineSeconds, TerminationGracePeriodSeconds = 10, Containers = [container] },
        }, ns);

    private Task<IList<ContainerListResponse>> ContainersOfAsync(string pod) =>
        docker.Containers.ListContainersAsync(new ContainersListParameters
        {
            All = true,
            Filters = new Dictionary<string, IDictionary<string, bool>>
            {
                ["label"] = new Dictionary<string, bool> { [LocalNames.NamespaceLabel + "=" + ns] = true, [LocalNames.PodLabel + "=" + pod] = true },
            },
        });

    /// <summary>Runs a pod on the shared claim to its end and returns its termination message: what an earlier pod left there.</summary>
    private async Task<string?> ReadThroughPodAsync(string name, string script)
    {
        await CreatePodAsync(name, Shell("main", script));
        var ended = await PodAsync(name, p => p.Status?.Phase is "Succeeded" or "Failed", $"pod {name} to end");
        return ended.Status.ContainerStatuses[0].State.Terminated.Message;
    }

    private Task<V1Pod> PodAsync(string name, Func<V1Pod, bool> done, string what) =>
        Eventually.GetAsync(() => kube.CoreV1.ReadNamespacedPodAsync(name, ns), done, what, TimeSpan.FromSeconds(60));

    private async Task ClaimAndConfigAsync()
    {
        await kube.CoreV1.CreateNamespacedPersistentVolumeClaimAsync(new V1PersistentVolumeClaim
        {
            Metadata = new V1ObjectMeta { Name = "shared", NamespaceProperty = ns },
            Spec = new V1PersistentVolumeClaimSpec
            {
                AccessModes = ["ReadWriteOnce"],
                Resources = new V1VolumeResourceRequirements { Requests = new Dictionary<string, ResourceQuantity> { ["storage"] = new("1Gi") } },
            },
        }, ns);
        await kube.CoreV1.CreateNamespacedConfigMapAsync(new V1ConfigMap
        {
            Metadata = new V1ObjectMeta { Name = "greeting", NamespaceProperty = ns },
            Data = new Dictionary<string, string> { ["hello"] = "world" },
        }, ns);
    }

    [DockerFact]
    public async Task A_pod_runs_its_init_container_then_its_container_and_ends_as_a_kubelet_reports_it()
    {
        await ClaimAndConfigAsync();
        await CreatePodAsync("writer",
            Shell("main", "cat /config/hello > /data/out && cat /data/init >> /data/out && echo finished > /dev/termination-log; exit 3"),
            Shell("prepare", "echo init > /data/init"));

        var ended = await PodAsync("writer", p => p.Status?.Phase is "Succeeded" or "Failed", "the pod to end");

        ended.Spec.NodeName.ShouldBe(Node);
        ended.Status.Phase.ShouldBe("Failed");
        ended.Status.InitContainerStatuses.ShouldHaveSingleItem().State.Terminated.ExitCode.ShouldBe(0);
        var main = ended.Status.ContainerStatuses.ShouldHaveSingleItem().State.Terminated;
        main.ExitCode.ShouldBe(3);
        main.Reason.ShouldBe("Error");
        main.Message.ShouldBe("finished\n");
        main.FinishedAt.ShouldNotBeNull().ShouldBeGreaterThanOrEqualTo(main.StartedAt!.Value);

        // The claim is a Docker volume that outlives the pod: the next pod reads what the first wrote.
        await CreatePodAsync("reader", Shell("main", "cat /data/out > /dev/termination-log"));
        var read = await PodAsync("reader", p => p.Status?.Phase is "Succeeded" or "Failed", "the second pod to end");
        read.Status.Phase.ShouldBe("Succeeded");
        read.Status.ContainerStatuses[0].State.Terminated.Message.ShouldBe("worldinit\n"); // the ConfigMap value ends without a newline
        var volume = await docker.Volumes.InspectAsync(LocalNames.ClaimVolume(Node, ns, "shared"));
        volume.Labels[LocalNames.ClaimLabel].ShouldBe("shared");
    }

    [DockerFact]
    public async Task Deleting_a_running_pod_stops_its_container_gracefully_and_then_the_pod_is_gone()
    {
        await ClaimAndConfigAsync();
        await CreatePodAsync("sleeper", Shell("main", "trap 'echo stopped > /data/stopped; exit 0' TERM; while true; do sleep 0.2; done"), grace: 10);
        await PodAsync("sleeper", p => p.Status?.Phase == "Running", "the pod to run");

        await kube.CoreV1.DeleteNamespacedPodAsync("sleeper", ns);
        await Eventually.GetAsync(async () => (await kube.CoreV1.ListNamespacedPodAsync(ns)).Items, pods => pods.All(p => p.Name() != "sleeper"), "the pod to be gone",
            TimeSpan.FromSeconds(60));

        (await ContainersOfAsync("sleeper")).ShouldBeEmpty();
        (await ReadThroughPodAsync("check", "cat /data/stopped > /dev/termination-log")).ShouldBe("stopped\n", "stopped with SIGTERM, not killed: its trap ran");
    }

    [DockerFact]
    public async Task A_pod_deleted_at_once_leaves_no_container_behind_but_its_claims_volume_stays()
    {
        await ClaimAndConfigAsync();
        await CreatePodAsync("forced", Shell("main", "echo kept > /data/kept; while true; do sleep 0.2; done"));
        await PodAsync("forced", p => p.Status?.Phase == "Running", "the pod to run");

        await kube.CoreV1.DeleteNamespacedPodAsync("forced", ns, new V1DeleteOptions { GracePeriodSeconds = 0 });
        await Eventually.GetAsync(() => ContainersOfAsync("forced"), c => c.Count == 0, "the orphaned container to be removed", TimeSpan.FromSeconds(60));
        (await ReadThroughPodAsync("after", "cat /data/kept > /dev/termination-log")).ShouldBe("kept\n");
    }

    [DockerFact]
    public async Task A_restarted_kubelet_adopts_the_container_that_ran_meanwhile_instead_of_starting_it_twice_and_reads_its_report()
    {
        await ClaimAndConfigAsync();
        await CreatePodAsync("build", Shell("main", "echo started >> /data/starts; sleep 2; echo built > /dev/termination-log"));
        await PodAsync("build", p => p.Status?.Phase == "Running", "the pod to run");

        // As local down in the middle of a build, and the build ending while nothing watches it.
        await StopKubeletAsync();
        await Eventually.GetAsync(() => ContainersOfAsync("build"), containers => containers.All(c => c.State == "exited"), "the build to end while the kubelet is down",
            TimeSpan.FromSeconds(30));
        await StartKubeletAsync();
        var ended = await PodAsync("build", p => p.Status?.Phase is "Succeeded" or "Failed", "the adopted pod to end");

        ended.Status.Phase.ShouldBe("Succeeded");
        ended.Status.ContainerStatuses.ShouldHaveSingleItem().State.Terminated.Message.ShouldBe("built\n");
        (await ContainersOfAsync("build")).Count.ShouldBe(1, "one container for the pod, not a second one");
        (await ReadThroughPodAsync("count", "wc -l < /data/starts > /dev/termination-log"))!.Trim().ShouldBe("1", "the build ran once");
    }

    [DockerFact]
    public async Task An_image_that_cannot_be_pulled_leaves_the_pod_waiting_with_the_image_and_the_error()
    {
        await CreateBarePodAsync("unpullable", new V1Container { Name = "main", Image = "registry.invalid/gentoo/stage3:missing", Command = ["true"] });

        var waiting = await PodAsync("unpullable", p => p.Status?.ContainerStatuses?.Any(c => c.State?.Waiting?.Reason is "ErrImagePull" or "ImagePullBackOff") == true,
            "the pull to fail");
        waiting.Status.Phase.ShouldBe("Pending");
        waiting.Status.ContainerStatuses[0].State.Waiting.Message.ShouldContain("registry.invalid/gentoo/stage3:missing");
        // Not pulled again at once: the kubelet backs off, and says so with the last error.
        var backingOff = await PodAsync("unpullable", p => p.Status?.ContainerStatuses?.Any(c => c.State?.Waiting?.Reason == "ImagePullBackOff") == true, "the pull to back off");
        backingOff.Status.ContainerStatuses[0].State.Waiting.Message.ShouldContain("could not be pulled");
    }

    [DockerFact]
    public async Task A_pod_created_between_passes_runs_on_its_watch_event_not_at_the_next_pass()
    {
        await StopKubeletAsync();
        await StartKubeletAsync(resync: TimeSpan.FromMinutes(5));
        await Task.Delay(TimeSpan.FromSeconds(1)); // its first pass is over: the next is minutes away

        await CreateBarePodAsync("prompt", Shell("main", "echo started > /dev/termination-log"));
        var ended = await Eventually.GetAsync(() => kube.CoreV1.ReadNamespacedPodAsync("prompt", ns), p => p.Status?.Phase is "Succeeded" or "Failed",
            "the pod to run before the next pass", TimeSpan.FromSeconds(30));
        ended.Status.Phase.ShouldBe("Succeeded");
        ended.Status.ContainerStatuses.ShouldHaveSingleItem().State.Terminated.Message.ShouldBe("started\n");
    }

    [DockerFact]
    public async Task A_container_the_engine_cannot_start_ends_with_StartError_and_the_engines_words()
    {
        await CreateBarePodAsync("broken", new V1Container { Name = "main", Image = DockerFactAttribute.Image, Command = ["/no/such/agent"] });

        var ended = await PodAsync("broken", p => p.Status?.Phase is "Succeeded" or "Failed", "the pod to fail");
        ended.Status.Phase.ShouldBe("Failed");
        var main = ended.Status.ContainerStatuses.ShouldHaveSingleItem().State.Terminated;
        main.Reason.ShouldBe("StartError");
        main.ExitCode.ShouldBe(127, "the engine's code for a command it cannot find, as a shell's");
        main.Message.ShouldContain("/no/such/agent");
    }

    [DockerFact]
    public async Task A_pod_past_its_deadline_is_stopped_gracefully_and_fails_as_DeadlineExceeded()
    {
        await CreateBarePodAsync("timed", Shell("main", "trap 'echo stopped > /dev/termination-log; exit 143' TERM; while true; do sleep 0.2; done"), deadlineSeconds: 2);
        var ended = await PodAsync("timed", p => p.Status?.Phase is "Succeeded" or "Failed", "the deadline to stop the pod");

        ended.Status.Phase.ShouldBe("Failed");
        ended.Status.Reason.ShouldBe("DeadlineExceeded");
        var main = ended.Status.ContainerStatuses.ShouldHaveSingleItem().State.Terminated;
        main.Message.ShouldBe("stopped\n", "SIGTERM first, as the kubelet does: the agent stops emerge gracefully");
        main.ExitCode.ShouldBe(143);
    }

    [DockerFact]
    public async Task A_pod_whose_claim_is_missing_or_that_needs_a_newer_kernel_is_not_placed_and_says_why()
    {
        await CreatePodAsync("homeless", Shell("main", "true"));
        var waiting = await PodAsync("homeless", p => p.Status?.Conditions?.Any(c => c.Type == "PodScheduled" && c.Reason == "Unschedulable") == true, "the pod to wait");
        waiting.Spec.NodeName.ShouldBeNull();
        waiting.Status.Conditions.Single(c => c.Type == "PodScheduled").Message.ShouldContain("persistentvolumeclaim \"shared\" not found");

        await ClaimAndConfigAsync();
        var future = new V1Pod
        {
            Metadata = new V1ObjectMeta { Name = "future", NamespaceProperty = ns },
            Spec = new V1PodSpec
            {
                Containers = [Shell("main", "true")],
                NodeSelector = new Dictionary<string, string> { ["kubernetes.io/hostname"] = "another-machine" },
            },
        };
        await kube.CoreV1.CreateNamespacedPodAsync(future, ns);
        var refused = await PodAsync("future", p => p.Status?.Conditions?.Any(c => c.Type == "PodScheduled" && c.Reason == "Unschedulable") == true, "the pod to be refused");
        refused.Status.Conditions.Single(c => c.Type == "PodScheduled").Message.ShouldContain("node affinity/selector");
        await PodAsync("homeless", p => p.Status?.Phase == "Succeeded", "the pod to run once its claim exists");
    }
}
