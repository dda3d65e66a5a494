// Build pod start on a real container runtime: the operator's own build pod (DesiredBuildPod, as it creates it for a
// BuildRun) run by local mode's kubelet on this machine's Docker engine, from the pod's creation to its build container
// started, as the API server reports it. Beside it in each round: the same pod in the bootstrap's shape (the agent copied
// into the container by an init container first, as build pods were before they ran the operator image), and the
// anchor, one container of the same image created and started by a plain Docker client. Nine rounds, each in turn; times
// are medians, ratios the median of the rounds' ratios. The image is the Dockerfile's layout (its agent published as the
// Dockerfile publishes it) on the Debian image hack/local-base-images.sh makes; the API server is the in-process one.
// Run: dotnet run -c Release --project bench/PodStartBench
using System.Diagnostics;
using System.Globalization;
using Docker.DotNet;
using Docker.DotNet.Models;
using Gentoo.Entities.V1Alpha1;
using Gentoo.Kubernetes.TestServer;
using Gentoo.Local;
using Gentoo.Operator.Desired;
using Gentoo.Protocol;
using Gentoo.Runtime;
using k8s;
using k8s.Models;
using Microsoft.Extensions.Logging.Abstractions;

if (args.Length > 0)
{
    Console.WriteLine("usage: dotnet run -c Release --project bench/PodStartBench");
    Console.WriteLine("  needs a Docker engine and gentoo-builder/runtime-deps:local (bash hack/local-base-images.sh makes both)");
    return args is ["--help"] or ["-h"] ? 0 : 2;
}

const string BaseImage = "gentoo-builder/runtime-deps:local";
const string Image = "gentoo-builder/pod-start-bench:local";
const string Ns = "pod-start-bench";
const int Rounds = 9;
var node = "pod-start-bench-" + Environment.ProcessId.ToString(CultureInfo.InvariantCulture);
var timeout = TimeSpan.FromSeconds(30);

if (!File.Exists("/var/run/docker.sock") || Executable.Run("docker", Checkout.Root, "image", "inspect", BaseImage).ExitCode != 0)
{
    Console.Error.WriteLine($"needs a running Docker engine and the image {BaseImage}: bash hack/local-base-images.sh (as root) makes both");
    return 2;
}

// The operator image's layout: the agent, published as the Dockerfile publishes it, where build pods run it from.
var context = Directory.CreateTempSubdirectory("pod-start-bench-").FullName;
Console.WriteLine($"publishing the agent as the Dockerfile does and building {Image}...");
Executable.PublishSingleFile("src/Agent/Agent.csproj", Path.Combine(context, "agent"));
File.WriteAllText(Path.Combine(context, "Dockerfile"), $"""
    FROM {BaseImage}
    COPY agent/gentoo-agent {AgentPod.AgentInImage}
    USER 65532:65532

    """);
if (Executable.Run("docker", context, "build", "-q", "-t", Image, ".") is { ExitCode: not 0 } failed)
{
    Console.Error.WriteLine($"docker build failed: {failed.Error}");
    return 1;
}

Directory.Delete(context, recursive: true);

await using var server = await KubeApiServer.StartAsync();
server.Kubelet.IgnoredNamespaces[Ns] = true; // the Docker kubelet runs this namespace's pods
using var kube = new Kubernetes(server.ClientConfiguration());
using var docker = await LocalDocker.ConnectAsync(null, CancellationToken.None);
await kube.CoreV1.CreateNamespaceAsync(new V1Namespace { Metadata = new V1ObjectMeta { Name = Ns } });
var state = Directory.CreateTempSubdirectory("pod-start-bench-state-").FullName;
using var stop = new CancellationTokenSource();
// As local mode runs them (its resync interval, its claim binding).
var options = new DockerKubeletOptions(node, state);
var local = Task.WhenAll(
    Task.Run(() => new DockerKubelet(kube, docker, options, TimeProvider.System, NullLogger<DockerKubelet>.Instance).RunAsync(stop.Token)),
    Task.Run(() => new LocalWorkloads(kube, docker, options, NullLogger<LocalWorkloads>.Instance).RunAsync(stop.Token)));

// A builder with its volumes and configuration, as the operator makes them before its first build.
var builder = new GentooBuilder
{
    Metadata = new V1ObjectMeta { Name = "desktop", NamespaceProperty = Ns, Uid = Guid.NewGuid().ToString() },
    Spec = new GentooBuilderSpec { BootstrapRef = new LocalReference { Name = "desktop" }, Signing = new SigningSpec { Unsigned = true } },
};
foreach (var claim in new[] { DesiredVolumes.RootName("desktop"), DesiredVolumes.BinpkgsName("desktop"), DesiredVolumes.DistfilesName("desktop") })
{
    await kube.CoreV1.CreateNamespacedPersistentVolumeClaimAsync(new V1PersistentVolumeClaim
    {
        Metadata = new V1ObjectMeta { Name = claim },
        Spec = new V1PersistentVolumeClaimSpec
        {
            AccessModes = ["ReadWriteOnce"],
            Resources = new V1VolumeResourceRequirements { Requests = new Dictionary<string, ResourceQuantity> { ["storage"] = new("1Gi") } },
        },
    }, Ns);
}

await kube.CoreV1.CreateNamespacedConfigMapAsync(new V1ConfigMap
{
    Metadata = new V1ObjectMeta { Name = DesiredBuilderPods.ConfigMapName("desktop") },
    Data = new Dictionary<string, string> { ["make.conf"] = "FEATURES=\"buildpkg\"\n" },
}, Ns);
await Eventually.GetAsync(() => kube.CoreV1.ListNamespacedPersistentVolumeClaimAsync(Ns), claims => claims.Items.All(c => c.Status?.Phase == "Bound"),
    "the builder's claims to be bound", timeout);

var settings = new PodSettings(Image);
var buildPods = new List<TimeSpan>();
var copyingPods = new List<TimeSpan>();
var anchors = new List<TimeSpan>();
try
{
    for (var round = 1; round <= Rounds; round++)
    {
        Console.WriteLine($"round {round} of {Rounds}: the build pod, the pod that copies its agent first, one container...");
        var run = new BuildRun
        {
            Metadata = new V1ObjectMeta { Name = $"firefox-{round}", NamespaceProperty = Ns, Uid = Guid.NewGuid().ToString() },
            Spec = new BuildRunSpec { BuilderRef = new LocalReference { Name = "desktop" }, Packages = ["www-client/firefox"] },
        };
        var pod = DesiredBuildPod.Build(run, builder, 1, null, settings);
        buildPods.Add(await PodStartAsync(pod));
        // The bootstrap's shape, with this image standing for the stage3: the same agent, arguments and volumes.
        var copying = DesiredAgentPod.Build(pod.Metadata.Name + "-copying", run, new Dictionary<string, string>(),
            new AgentPlacement(Image), pod.Spec.Containers[0].Args.ToList(), DesiredBuilderPods.Volumes(builder), settings);
        copyingPods.Add(await PodStartAsync(copying));
        anchors.Add(await ContainerStartAsync(pod.Spec.Containers[0].Args));
    }
}
finally
{
    await stop.CancelAsync();
    await local.ContinueWith(_ => { }, TaskScheduler.Default);
    await RemoveOursAsync();
    Directory.Delete(state, recursive: true);
}

Console.WriteLine($"pod start benchmark: local mode's kubelet on this machine's Docker engine, in-process API server, {Environment.ProcessorCount} cores, {Rounds} rounds");
Console.WriteLine($"{"measure",-44} {"pod",10} {"anchor",10} {"ratio",7}  goal");
Row("build pod created -> build container started", buildPods, "< 2 s");
Row("  the same with the agent copied in first", copyingPods, "");
Console.WriteLine($"{"  each round, build pod",-44} {string.Join(" ", buildPods.Select(t => t.TotalSeconds.ToString("F2", CultureInfo.InvariantCulture)))}");
Console.WriteLine($"{"  each round, agent copied first",-44} {string.Join(" ", copyingPods.Select(t => t.TotalSeconds.ToString("F2", CultureInfo.InvariantCulture)))}");
Console.WriteLine($"{"  each round, one container (anchor)",-44} {string.Join(" ", anchors.Select(t => t.TotalSeconds.ToString("F2", CultureInfo.InvariantCulture)))}");
return 0;

void Row(string measure, List<TimeSpan> pods, string goal)
{
    var ratio = pods.Zip(anchors, (ours, theirs) => ours / theirs).Order().ElementAt(Rounds / 2);
    Console.WriteLine($"{measure,-44} {Median(pods).TotalSeconds,8:F2} s {Median(anchors).TotalSeconds,8:F2} s {ratio,6:F2}x  {goal}");
}

static TimeSpan Median(IEnumerable<TimeSpan> times) => times.Order().ElementAt(Rounds / 2);

// From the create request to the API server reporting the build container started (running, or already ended), seen on
// a watch; then the pod is deleted and its containers gone before the next one.
async Task<TimeSpan> PodStartAsync(V1Pod pod)
{
    pod.Metadata.OwnerReferences = null; // its BuildRun is not in this API server, whose garbage collector would take the pod
    using var deadline = new CancellationTokenSource(timeout);
    var list = await kube.CoreV1.ListNamespacedPodAsync(Ns, cancellationToken: deadline.Token);
    var clock = Stopwatch.StartNew();
    await kube.CoreV1.CreateNamespacedPodAsync(pod, Ns, cancellationToken: deadline.Token);
    var started = TimeSpan.Zero;
    try
    {
        await foreach (var (_, seen) in CoreKinds.Pods(kube).WatchAsync(Ns, list.Metadata.ResourceVersion, timeout, e => throw e, deadline.Token))
        {
            if (seen.Metadata.Name == pod.Metadata.Name
                && seen.Status?.ContainerStatuses?.FirstOrDefault(c => c.Name == AgentPod.Container)?.State is { } containerState
                && (containerState.Running is not null || containerState.Terminated is not null))
            {
                started = clock.Elapsed;
                break;
            }
        }
    }
    catch (OperationCanceledException) when (deadline.IsCancellationRequested)
    {
    }

    if (started == TimeSpan.Zero)
    {
        var status = (await kube.CoreV1.ReadNamespacedPodAsync(pod.Metadata.Name, Ns)).Status;
        throw new TimeoutException($"pod {pod.Metadata.Name} did not start within {timeout}: {KubernetesJson.Serialize(status)}");
    }

    await kube.CoreV1.DeleteNamespacedPodAsync(pod.Metadata.Name, Ns, cancellationToken: deadline.Token);
    await Eventually.GetAsync(() => kube.CoreV1.ListNamespacedPodAsync(Ns, cancellationToken: deadline.Token), pods => pods.Items.Count == 0,
        $"pod {pod.Metadata.Name} to be gone", timeout);
    return started;
}

// The anchor: what any runtime client pays for one container of the image, with the agent's arguments (create, start).
async Task<TimeSpan> ContainerStartAsync(IList<string> agentArgs)
{
    var clock = Stopwatch.StartNew();
    var created = await docker.Containers.CreateContainerAsync(new CreateContainerParameters
    {
        Image = Image,
        Entrypoint = [AgentPod.AgentInImage],
        Cmd = [.. agentArgs],
        User = "0",
        Labels = new Dictionary<string, string> { [LocalNames.NodeLabel] = node },
    });
    await docker.Containers.StartContainerAsync(created.ID, new ContainerStartParameters());
    var started = clock.Elapsed;
    await docker.Containers.RemoveContainerAsync(created.ID, new ContainerRemoveParameters { Force = true });
    return started;
}

async Task RemoveOursAsync()
{
    var ours = new Dictionary<string, IDictionary<string, bool>> { ["label"] = new Dictionary<string, bool> { [LocalNames.NodeLabel + "=" + node] = true } };
    // What the stopped kubelet was removing may be gone, or still hold a volume: what is left is named, not fatal.
    foreach (var container in await docker.Containers.ListContainersAsync(new ContainersListParameters { All = true, Filters = ours }))
    {
        await docker.Containers.RemoveContainerAsync(container.ID, new ContainerRemoveParameters { Force = true })
            .ContinueWith(removed => Report(removed, $"container {container.ID[..12]}"), TaskScheduler.Default);
    }

    foreach (var volume in (await docker.Volumes.ListAsync(new VolumesListParameters { Filters = ours })).Volumes ?? [])
    {
        await docker.Volumes.RemoveAsync(volume.Name, force: true).ContinueWith(removed => Report(removed, $"volume {volume.Name}"), TaskScheduler.Default);
    }

    static void Report(Task removed, string what)
    {
        if (removed.Exception?.InnerException is { } e && e is not DockerApiException { StatusCode: System.Net.HttpStatusCode.NotFound })
        {
            Console.Error.WriteLine($"left behind: {what} ({e.Message}); docker rm / docker volume rm removes it");
        }
    }
}
