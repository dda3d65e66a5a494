using Docker.DotNet;
using Docker.DotNet.Models;
using Gentoo.Entities.V1Alpha1;
using Gentoo.Kubernetes.TestServer;
using Gentoo.Operator.Desired;
using Gentoo.Operator.Hosting;
using Gentoo.Operator.Reconcilers;
using Gentoo.Runtime;
using k8s;
using k8s.Models;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit.Abstractions;

namespace Gentoo.Local.Tests;

/// <summary>
/// The operator's own controllers, unchanged, with the Docker kubelet running their pods as real containers: a bootstrap,
/// a builder whose root is copied from it by a real cp between Docker volumes, and a build. The agent is a stand-in that
/// reports success (the real one needs a Gentoo stage3); what is real is every pod the operator makes, run by Docker.
/// The agent pods are privileged: where the engine cannot grant every capability (this project's CI machine runs Docker
/// inside a container), they run in local mode's reduced form (<see cref="PrivilegeFallback"/>).
/// </summary>
public sealed class LocalLifecycleTests(ITestOutputHelper output) : IAsyncLifetime
{
    private readonly string ns = "lifecycle-" + Guid.NewGuid().ToString("N")[..8];
    private readonly string state = Directory.CreateTempSubdirectory("gentoo-local-").FullName;
    private readonly CancellationTokenSource stop = new();
    private KubeApiServer server = null!;
    private IKubernetes kube = null!;
    private IDockerClient docker = null!;
    private ServiceProvider services = null!;
    private Task kubelet = Task.CompletedTask;

    public async Task InitializeAsync()
    {
        StandInImages.BuildOperator();
        server = await KubeApiServer.StartAsync();
        server.Kubelet.IgnoredNamespaces[ns] = true;
        kube = new k8s.Kubernetes(server.ClientConfiguration());
        await new Crds.CrdInstaller(kube, NullLogger<Crds.CrdInstaller>.Instance).InstallAsync(CancellationToken.None);
        await kube.CoreV1.CreateNamespaceAsync(new V1Namespace { Metadata = new V1ObjectMeta { Name = ns } });
        docker = await LocalDocker.ConnectAsync(null, CancellationToken.None);
        var kubeletOptions = new DockerKubeletOptions("machine-" + ns, state) { Resync = TimeSpan.FromMilliseconds(200) };
        kubelet = Task.WhenAll(
            Task.Run(() => new DockerKubelet(kube, docker, kubeletOptions, TimeProvider.System, new TestOutputLogger<DockerKubelet>(output)).RunAsync(stop.Token)),
            Task.Run(() => new LocalWorkloads(kube, docker, kubeletOptions, new TestOutputLogger<LocalWorkloads>(output)).RunAsync(stop.Token)));

        services = new ServiceCollection()
            .AddSingleton(kube)
            .AddSingleton<ILoggerFactory>(NullLoggerFactory.Instance)
            .AddSingleton(typeof(ILogger<>), typeof(Logger<>))
            .AddControllerRuntime(new LeaderElectionSettings { Enabled = false })
            .AddLifecycle(new LifecycleSettings(new PodSettings(StandInImages.Operator)) { SnapshotPoll = TimeSpan.FromMilliseconds(500), ConfigPoll = TimeSpan.FromMilliseconds(500) }, ns)
            .BuildServiceProvider();
        await Controllers.Register(services).StartAsync(stop.Token);
    }

    public async Task DisposeAsync()
    {
        await stop.CancelAsync();
        await services.GetRequiredService<ControllerManager>().StopAsync(CancellationToken.None);
        await kubelet.ContinueWith(_ => { }, TaskScheduler.Default);
        await DockerCleanup.RemoveNamespaceAsync(docker, ns);

        await services.DisposeAsync();
        docker.Dispose();
        kube.Dispose();
        await server.DisposeAsync();
        Directory.Delete(state, recursive: true);
        stop.Dispose();
    }

    [DockerFact]
    public async Task A_bootstrap_a_builder_copied_from_it_and_a_build_run_as_real_containers_of_this_machine()
    {
        var bootstraps = new ResourceApi<GentooBootstrap>(kube);
        var builders = new ResourceApi<GentooBuilder>(kube);
        var runs = new ResourceApi<BuildRun>(kube);
        await bootstraps.CreateAsync(new GentooBootstrap
        {
            Metadata = new V1ObjectMeta { Name = "stage3", NamespaceProperty = ns },
            Spec = new GentooBootstrapSpec
            {
                Stage3 = new Stage3Source { Image = DockerFactAttribute.Image },
                Profile = "default/linux/amd64/23.0",
                Portage = new PortageConfig { PackageUse = ["app-editors/vim -X"] },
            },
        }, CancellationToken.None);
        await builders.CreateAsync(new GentooBuilder
        {
            Metadata = new V1ObjectMeta { Name = "desktop", NamespaceProperty = ns },
            Spec = new GentooBuilderSpec { BootstrapRef = new LocalReference { Name = "stage3" } },
        }, CancellationToken.None);
        await runs.CreateAsync(new BuildRun
        {
            Metadata = new V1ObjectMeta { Name = "firefox", NamespaceProperty = ns },
            Spec = new BuildRunSpec { BuilderRef = new LocalReference { Name = "desktop" }, Packages = ["www-client/firefox"] },
        }, CancellationToken.None);

        var done = await Eventually.GetAsync(async () => (await runs.GetAsync(ns, "firefox", CancellationToken.None))!,
            r => r.Status.Phase is BuildRunPhase.Succeeded or BuildRunPhase.Failed or BuildRunPhase.AwaitingOperator or BuildRunPhase.Stalled,
            "the run to end", TimeSpan.FromMinutes(3));

        done.Status.Phase.ShouldBe(BuildRunPhase.Succeeded, KubernetesJson.Serialize(done.Status));
        done.Status.Attempts.ShouldHaveSingleItem().Node.ShouldBe("machine-" + ns);
        var bootstrap = (await bootstraps.GetAsync(ns, "stage3", CancellationToken.None))!;
        bootstrap.Status.Phase.ShouldBe(BootstrapPhase.Ready);
        bootstrap.Status.Snapshot!.Method.ShouldBe("PvcCopy", "one machine has no snapshot controller: the root is copied");
        // The builder's root was filled by the copy pod's cp between the two Docker volumes.
        var copy = await kube.CoreV1.ReadNamespacedPodAsync(DesiredBuilderPods.CopyPodName("desktop"), ns);
        copy.Status.Phase.ShouldBe("Succeeded");
        copy.Status.ContainerStatuses.ShouldHaveSingleItem().State.Terminated.ExitCode.ShouldBe(0);
        foreach (var claim in new[] { "stage3-bootstrap-root", "desktop-root", "desktop-binpkgs", "desktop-distfiles" })
        {
            (await docker.Volumes.InspectAsync(LocalNames.ClaimVolume("machine-" + ns, ns, claim))).Labels[LocalNames.ClaimLabel].ShouldBe(claim);
        }
    }
}
