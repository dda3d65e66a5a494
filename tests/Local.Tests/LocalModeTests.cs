using Docker.DotNet;
using Docker.DotNet.Models;
using Gentoo.Entities.V1Alpha1;
using Gentoo.Kubernetes.TestServer;
using Gentoo.Operator.Hosting;
using Gentoo.Runtime;
using k8s;
using k8s.Models;
using Serilog;

namespace Gentoo.Local.Tests;

/// <summary>
/// `local up` as a user runs it, in process: the embedded API server persisted in a state directory, the Docker engine
/// running every pod, the operator's controllers; a client that knows only the kubeconfig local mode wrote. Through real
/// containers, with this tree's agent and binhost published into an image as the Dockerfile does, and a stage3 stand-in
/// whose emerge replays what real Portage printed: bootstrap (snapshotted), builder (restored), a build, a build that
/// needs a keyword change and is resumed with the fix accepted, local mode stopped and started again in the middle of a
/// build, and the builder's binhost serving the package on its published port.
/// </summary>
public sealed class LocalModeTests : IAsyncLifetime
{
    private readonly string state = Directory.CreateTempSubdirectory("gentoo-local-mode-").FullName;
    private readonly string node = "machine-" + Guid.NewGuid().ToString("N")[..8];
    private readonly int apiPort = FreePorts.Next();
    private readonly int healthPort = FreePorts.Next();
    private IDockerClient docker = null!;
    private CancellationTokenSource? stop;
    private Task running = Task.CompletedTask;

    public async Task InitializeAsync()
    {
        if (DockerFactAttribute.Missing() is null)
        {
            StandInImages.BuildThisTreeAndStage3();
            docker = await LocalDocker.ConnectAsync(null, CancellationToken.None);
        }
    }

    public async Task DisposeAsync()
    {
        await DownAsync();
        if (docker is not null)
        {
            await DockerCleanup.RemoveNamespaceAsync(docker, "default", node);
            docker.Dispose();
        }

        Directory.Delete(state, recursive: true);
    }

    private async Task<IKubernetes> UpAsync()
    {
        stop = new CancellationTokenSource();
        var options = new LocalOptions
        {
            State = new LocalState(state),
            ApiPort = apiPort,
            NodeName = node,
            Operator = new OperatorOptions
            {
                LeaderElection = false, BindAddress = "127.0.0.1", HealthPort = healthPort, OperatorImage = StandInImages.RealOperator, BinhostServiceType = "LoadBalancer",
                ShutdownTimeout = TimeSpan.FromSeconds(5),
            },
        };
        var logger = new LoggerConfiguration().CreateLogger();
        running = Task.Run(async () =>
        {
            try
            {
                await LocalHost.RunAsync(options, logger, stop.Token);
            }
            finally
            {
                await logger.DisposeAsync();
            }
        });
        var kubeconfig = Path.Combine(state, "kubeconfig");
        await Eventually.GetAsync(() => Task.FromResult(running.IsCompleted || File.Exists(kubeconfig)), up => up, "local mode to write its kubeconfig");
        if (running.IsCompleted)
        {
            await running; // it stopped: say why
        }

        var kube = new k8s.Kubernetes(KubernetesClientConfiguration.BuildConfigFromConfigFile(kubeconfig));
        // After a restart the kubeconfig is there before the server listens again.
        await Eventually.GetAsync(async () =>
        {
            try
            {
                return running.IsCompleted || (await kube.CoreV1.ListNodeAsync()).Items.Any(n => n.Name() == node);
            }
            catch (HttpRequestException)
            {
                return false;
            }
        }, up => up, "local mode to answer and this machine to register");
        if (running.IsCompleted)
        {
            await running;
        }

        return kube;
    }

    private async Task DownAsync()
    {
        if (stop is null)
        {
            return;
        }

        await stop.CancelAsync();
        await running.ContinueWith(_ => { }, TaskScheduler.Default);
        stop.Dispose();
        stop = null;
    }

    private static Task<BuildRun> RunToAsync(ResourceApi<BuildRun> runs, string name, params BuildRunPhase[] phases) =>
        Eventually.GetAsync(async () => (await runs.GetAsync("default", name, CancellationToken.None))!,
            r => r.Status?.Phase is { } phase && (phases.Contains(phase) || phase is BuildRunPhase.Failed or BuildRunPhase.Stalled),
            $"BuildRun {name} to reach {string.Join(" or ", phases)}", TimeSpan.FromMinutes(3));

    private static BuildRun Run(string name, string package) => new()
    {
        Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = "default" },
        Spec = new BuildRunSpec { BuilderRef = new LocalReference { Name = "desktop" }, Packages = [package] },
    };

    [DockerFact]
    public async Task Local_mode_takes_a_builder_through_builds_a_resumed_failure_and_a_restart_mid_build_and_serves_its_packages()
    {
        var kube = await UpAsync();
        (File.GetUnixFileMode(Path.Combine(state, "kubeconfig")) & (UnixFileMode.GroupRead | UnixFileMode.OtherRead)).ShouldBe((UnixFileMode)0);
        var runs = new ResourceApi<BuildRun>(kube);
        await new ResourceApi<GentooBootstrap>(kube).CreateAsync(new GentooBootstrap
        {
            Metadata = new V1ObjectMeta { Name = "stage3", NamespaceProperty = "default" },
            Spec = new GentooBootstrapSpec { Stage3 = new Stage3Source { Image = StandInImages.Stage3 }, Profile = "default/linux/amd64/23.0" },
        }, CancellationToken.None);
        await new ResourceApi<GentooBuilder>(kube).CreateAsync(new GentooBuilder
        {
            Metadata = new V1ObjectMeta { Name = "desktop", NamespaceProperty = "default" },
            // The stand-in stage3 has no gpg to sign with.
            Spec = new GentooBuilderSpec { BootstrapRef = new LocalReference { Name = "stage3" }, Signing = new SigningSpec { Unsigned = true } },
        }, CancellationToken.None);

        await runs.CreateAsync(Run("hello", "app-misc/hello"), CancellationToken.None);
        (await RunToAsync(runs, "hello", BuildRunPhase.Succeeded)).Status.Phase.ShouldBe(BuildRunPhase.Succeeded);

        // The bootstrap's root was snapshotted as a copy of its Docker volume, and the builder's root restored from it.
        var bootstrap = (await new ResourceApi<GentooBootstrap>(kube).GetAsync("default", "stage3", CancellationToken.None))!;
        bootstrap.Status.Snapshot!.Method.ShouldBe("VolumeSnapshot", "local mode offers a StorageClass and a VolumeSnapshotClass of its own driver");
        var snapshot = (System.Text.Json.JsonElement)await kube.CustomObjects.GetNamespacedCustomObjectAsync(
            "snapshot.storage.k8s.io", "v1", "default", "volumesnapshots", bootstrap.Status.Snapshot.Name);
        var snapshotVolume = await docker.Volumes.InspectAsync(LocalSnapshots.SnapshotVolume(snapshot.GetProperty("metadata").GetProperty("uid").GetString()!));
        snapshotVolume.Labels[LocalNames.NodeLabel].ShouldBe(node);
        var root = await kube.CoreV1.ReadNamespacedPersistentVolumeClaimAsync("desktop-root", "default");
        root.Spec.DataSource.ShouldNotBeNull().Kind.ShouldBe("VolumeSnapshot");
        root.Status.Phase.ShouldBe("Bound");

        // A failure waits for a person, who resumes it accepting emerge's fix, as kubectl gentoo resume --accept 1 does.
        await runs.CreateAsync(Run("nightly", "app-misc/nightly"), CancellationToken.None);
        var waiting = await RunToAsync(runs, "nightly", BuildRunPhase.AwaitingOperator);
        waiting.Status.Phase.ShouldBe(BuildRunPhase.AwaitingOperator);
        waiting.Status.Conditions!.ShouldContain(c => c.Type == "Ready" && c.Reason == "KeywordChangeRequired");
        await kube.CustomObjects.PatchNamespacedCustomObjectAsync(
            TestPatches.Merge(new { metadata = new { annotations = new Dictionary<string, string> { [RequestAnnotations.Resume] = "first", [RequestAnnotations.AcceptFixes] = "1" } } }),
            GroupVersion.Group, GroupVersion.Version, "default", "buildruns", "nightly");
        var resumed = await RunToAsync(runs, "nightly", BuildRunPhase.Succeeded);
        resumed.Status.Phase.ShouldBe(BuildRunPhase.Succeeded);
        resumed.Status.Attempts!.Count.ShouldBe(2);

        // Local mode goes down in the middle of a build: the build goes on, and the next start adopts it.
        await runs.CreateAsync(Run("slow", "app-misc/slow"), CancellationToken.None);
        var building = await RunToAsync(runs, "slow", BuildRunPhase.Running);
        building.Status.Phase.ShouldBe(BuildRunPhase.Running);
        await DownAsync();
        var pod = building.Status.Attempts.ShouldHaveSingleItem().Pod;
        var byPod = new Dictionary<string, IDictionary<string, bool>> { ["label"] = new Dictionary<string, bool> { [LocalNames.PodLabel + "=" + pod] = true, [LocalNames.NodeLabel + "=" + node] = true } };
        (await docker.Containers.ListContainersAsync(new ContainersListParameters { Filters = byPod })).ShouldContain(c => c.State == "running", "the build runs on while local mode is down");
        kube.Dispose();

        kube = await UpAsync();
        runs = new ResourceApi<BuildRun>(kube);
        var slow = await RunToAsync(runs, "slow", BuildRunPhase.Succeeded);
        slow.Status.Phase.ShouldBe(BuildRunPhase.Succeeded);
        slow.Status.Attempts.ShouldHaveSingleItem("the restart must not start the build a second time");
        (await docker.Containers.ListContainersAsync(new ContainersListParameters { All = true, Filters = byPod }))
            .Count(c => c.Labels[LocalNames.ContainerLabel] == Protocol.AgentPod.Container).ShouldBe(1);
        (await runs.GetAsync("default", "hello", CancellationToken.None))!.Status.Phase.ShouldBe(BuildRunPhase.Succeeded, "what was done before the restart is still there");

        // The binhost is published on this machine at its Service's port, and serves what the builds made.
        var builder = await Eventually.GetAsync(async () => (await new ResourceApi<GentooBuilder>(kube).GetAsync("default", "desktop", CancellationToken.None))!,
            b => b.Status?.BinhostUrl?.StartsWith("http://127.0.0.1", StringComparison.Ordinal) == true, "the builder's binhost URL to be this machine's");
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(3) };
        var packages = await Eventually.GetAsync(async () =>
        {
            try
            {
                return await http.GetStringAsync(new Uri(new Uri(builder.Status.BinhostUrl!), "Packages"));
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
                return "";
            }
        }, text => text.Contains("CPV: dev-libs/libkver-0.3", StringComparison.Ordinal), "the binhost to serve the built package in its index", TimeSpan.FromMinutes(1));
        packages.ShouldContain("CPV: dev-libs/libkver-0.3");

        // Each successful run made a release on the binpkgs volume; the newest is published, and the page shows it.
        slow.Status.Release.ShouldNotBeNull().ShouldMatch("^[0-9]+$", "a successful run makes a release");
        var released = await Eventually.GetAsync(async () => (await new ResourceApi<GentooBuilder>(kube).GetAsync("default", "desktop", CancellationToken.None))!,
            b => b.Status?.Releases?.Published == slow.Status.Release, "the builder's status to show the newest release published");
        released.Status.Releases!.Kept!.Select(r => r.Id).ShouldContain(slow.Status.Release!);
        (await http.GetStringAsync(builder.Status.BinhostUrl)).ShouldContain($"id=\"release-{slow.Status.Release}\" class=\"published\"");
        kube.Dispose();
    }
}
