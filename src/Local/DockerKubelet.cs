using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Runtime.InteropServices;
using System.Text;
using System.Threading.Channels;
using Docker.DotNet;
using Docker.DotNet.Models;
using Gentoo.Protocol;
using Gentoo.Runtime;
using k8s;
using k8s.Autorest;
using k8s.Models;
using Microsoft.Extensions.Logging;

namespace Gentoo.Local;

/// <summary>This machine as a Node: its name, where pods keep their files, and how often it looks at its pods.</summary>
public sealed record DockerKubeletOptions(string NodeName, string StateDirectory)
{
    public TimeSpan Resync { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Where LoadBalancer Services' ports are published on this machine: loopback unless the user chooses an address desktops reach.</summary>
    public string ServiceAddress { get; init; } = "127.0.0.1";
}

/// <summary>
/// Plays kubelet (and, for its one Node, scheduler) for an API server, with the local Docker engine as the container
/// runtime: registers this machine as a Node with its real kernel, binds the pods that fit it, runs their init
/// containers in order and then their containers, and writes back what a kubelet writes (phase, container states, exit
/// codes, termination messages, start and finish times); a pod's deadline and its graceful deletion stop its containers
/// with the pod's grace period. Containers and volumes carry labels, so a restart finds what is still running.
/// </summary>
public sealed class DockerKubelet(IKubernetes kube, IDockerClient docker, DockerKubeletOptions options, TimeProvider clock, ILogger<DockerKubelet> log)
{
    private const string DeadlineExceeded = "DeadlineExceeded";
    /// <summary>The pods this process runs, by uid, each with what stops its run when the pod is deleted.</summary>
    private readonly ConcurrentDictionary<string, (Task Run, CancellationTokenSource Cancel)> pods = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Task> stopping = new(StringComparer.Ordinal);
    /// <summary>Images that could not be pulled: when to try again and why the last try failed, as the kubelet backs off.</summary>
    private readonly ConcurrentDictionary<string, (DateTime Next, TimeSpan Delay, string Error)> pullBackoff = new(StringComparer.Ordinal);
    private IDictionary<string, string> nodeLabels = new Dictionary<string, string>();
    /// <summary>Set once the engine refused a privileged container: later ones go straight to <see cref="PrivilegeFallback"/>.</summary>
    private volatile bool privilegeReduced;
    /// <summary>A pod of this machine (or one not yet placed) changed: the next pass starts now, not after the resync interval.</summary>
    private readonly Channel<bool> podChanged = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
    /// <summary>The resourceVersion of the last pass's list of pods, where the watch resumes.</summary>
    private volatile string podsVersion = "";

    /// <summary>Registers the Node, then keeps the pods of the API server in step with the containers of this machine until canceled.</summary>
    public async Task RunAsync(CancellationToken ct)
    {
        await RegisterNodeAsync(ct);
        using var watching = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var watch = Task.Run(() => WakeOnPodEventsAsync(watching.Token), CancellationToken.None);
        while (!ct.IsCancellationRequested)
        {
            try
            {
                nodeLabels = (await kube.CoreV1.ReadNodeAsync(options.NodeName, cancellationToken: ct)).Metadata.Labels ?? nodeLabels;
                var list = await kube.CoreV1.ListPodForAllNamespacesAsync(cancellationToken: ct);
                podsVersion = list.Metadata?.ResourceVersion ?? "";
                var all = list.Items;
                await CollectOrphansAsync(all.Select(p => p.Metadata.Uid).ToHashSet(StringComparer.Ordinal), ct);
                foreach (var pod in all)
                {
                    try
                    {
                        await HandleAsync(pod, ct);
                    }
                    catch (Exception e) when (e is HttpOperationException or DockerApiException or IOException && !ct.IsCancellationRequested)
                    {
                        log.LogWarning(e, "Pod {Namespace}/{Pod}: {Message}; trying again", pod.Metadata.NamespaceProperty, pod.Metadata.Name, e.Message);
                    }
                }
            }
            catch (HttpOperationException e) when (!ct.IsCancellationRequested)
            {
                log.LogWarning("Pods could not be read from the API server ({Status}); trying again", e.Response.StatusCode);
            }

            await NextPassAsync(ct);
        }

        await watching.CancelAsync();
        await watch.ContinueWith(_ => { }, TaskScheduler.Default);
        await Task.WhenAll(pods.Values.Select(p => p.Run).Concat(stopping.Values)).ContinueWith(_ => { }, TaskScheduler.Default);
    }

    /// <summary>Waits for the resync interval, or less when a pod changed: a kubelet acts on its watch, not on a timer.</summary>
    private async Task NextPassAsync(CancellationToken ct)
    {
        using var resync = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var changed = podChanged.Reader.WaitToReadAsync(resync.Token).AsTask();
        await Task.WhenAny(Task.Delay(options.Resync, clock, resync.Token), changed).ContinueWith(_ => { }, TaskScheduler.Default);
        await resync.CancelAsync();
        podChanged.Reader.TryRead(out _);
    }

    /// <summary>
    /// Watches all pods from the last pass's list and wakes the next pass for those it may have to act on: unplaced ones
    /// and this machine's. The passes stay the source of truth; a broken watch only costs the resync interval.
    /// </summary>
    private async Task WakeOnPodEventsAsync(CancellationToken ct)
    {
        var watchable = CoreKinds.Pods(kube);
        while (!ct.IsCancellationRequested)
        {
            try
            {
                await foreach (var (_, pod) in watchable.WatchAsync(null, podsVersion, TimeSpan.FromMinutes(5), e => log.LogDebug("Pod watch: {Message}", e.Message), ct))
                {
                    if (pod.Spec?.NodeName is null || pod.Spec.NodeName == options.NodeName)
                    {
                        podChanged.Writer.TryWrite(true);
                    }
                }
            }
            catch (Exception e) when (e is HttpOperationException or HttpRequestException or IOException && !ct.IsCancellationRequested)
            {
                log.LogDebug("Pod watch ended ({Message}); passes every {Resync} until it is back", e.Message, options.Resync);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }

            await Task.Delay(options.Resync, clock, ct).ContinueWith(_ => { }, TaskScheduler.Default);
        }
    }

    private async Task HandleAsync(V1Pod pod, CancellationToken ct)
    {
        var uid = pod.Metadata.Uid;
        if (pod.Spec.NodeName is null)
        {
            if (pod.Metadata.DeletionTimestamp is not null)
            {
                await DeleteNowAsync(pod, ct);
            }
            else if ((NodeSelection.Refusal(pod, nodeLabels) ?? await ClaimRefusalAsync(pod, ct)) is { } refusal)
            {
                await UpdateStatusAsync(pod, s => s.Conditions = Condition(s.Conditions, "PodScheduled", "False", "Unschedulable", refusal), ct);
            }
            else
            {
                await kube.CoreV1.CreateNamespacedPodBindingAsync(
                    new V1Binding { Metadata = new V1ObjectMeta { Name = pod.Metadata.Name }, Target = new V1ObjectReference { Kind = "Node", Name = options.NodeName } },
                    pod.Metadata.Name, pod.Metadata.NamespaceProperty, cancellationToken: ct);
            }

            return;
        }

        if (pod.Spec.NodeName != options.NodeName)
        {
            return;
        }

        if (pod.Metadata.DeletionTimestamp is not null)
        {
            _ = stopping.GetOrAdd(uid, key => Task.Run(async () =>
            {
                try
                {
                    await StopAndDeleteAsync(pod, ct);
                }
                catch (Exception e) when (!ct.IsCancellationRequested)
                {
                    log.LogWarning(e, "Pod {Namespace}/{Pod} could not be stopped: {Message}; trying again", pod.Metadata.NamespaceProperty, pod.Metadata.Name, e.Message);
                }
                finally
                {
                    stopping.TryRemove(key, out _);
                }
            }, CancellationToken.None));

            return;
        }

        if (PodPhases.HasEnded(pod.Status?.Phase) || pods.ContainsKey(uid))
        {
            return;
        }

        var cancel = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var run = Task.Run(async () =>
        {
            try
            {
                await RunPodAsync(pod, cancel.Token);
            }
            catch (OperationCanceledException) when (cancel.IsCancellationRequested)
            {
                // Deleted, or this process stops: the containers stay as they are, for the deletion or the next start.
            }
            catch (Exception e) when (!cancel.IsCancellationRequested)
            {
                // Looked at again on the next pass: the containers it made are adopted, not made twice.
                log.LogWarning(e, "Pod {Namespace}/{Pod} could not be run: {Message}", pod.Metadata.NamespaceProperty, pod.Metadata.Name, e.Message);
                Forget(uid);
            }
        }, CancellationToken.None);
        pods[uid] = (run, cancel);
    }

    /// <summary>As the scheduler: a pod whose claim is missing or being deleted waits, naming the claim.</summary>
    private async Task<string?> ClaimRefusalAsync(V1Pod pod, CancellationToken ct)
    {
        foreach (var claim in (pod.Spec.Volumes ?? []).Where(v => v.PersistentVolumeClaim is not null).Select(v => v.PersistentVolumeClaim.ClaimName))
        {
            var found = await CoreWrites.ReadOrNullAsync(() => kube.CoreV1.ReadNamespacedPersistentVolumeClaimAsync(claim, pod.Metadata.NamespaceProperty, cancellationToken: ct));
            if (found is null)
            {
                return $"0/1 nodes are available: persistentvolumeclaim \"{claim}\" not found.";
            }

            if (found.Metadata.DeletionTimestamp is not null)
            {
                return $"0/1 nodes are available: persistentvolumeclaim \"{claim}\" is being deleted.";
            }

            // As the scheduler: a claim of an Immediate class is used once bound (here: once its volume exists and, when
            // restored from a snapshot, is filled), never while it is still being provisioned.
            if (found.Status?.Phase != "Bound")
            {
                return "0/1 nodes are available: pod has unbound immediate PersistentVolumeClaims.";
            }
        }

        return null;
    }

    private async Task RegisterNodeAsync(CancellationToken ct)
    {
        var version = await docker.System.GetVersionAsync(ct);
        var info = await docker.System.GetSystemInfoAsync(ct);
        var arch = RuntimeInformation.OSArchitecture switch { Architecture.Arm64 => "arm64", Architecture.X64 => "amd64", var other => other.ToString().ToLowerInvariant() };
        var node = new V1Node
        {
            Metadata = new V1ObjectMeta
            {
                Name = options.NodeName,
                Labels = new Dictionary<string, string>
                {
                    ["kubernetes.io/hostname"] = options.NodeName,
                    ["kubernetes.io/os"] = "linux",
                    ["kubernetes.io/arch"] = arch,
                },
            },
        };
        try
        {
            node = await kube.CoreV1.CreateNodeAsync(node, cancellationToken: ct);
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.Conflict)
        {
            node = await kube.CoreV1.ReadNodeAsync(options.NodeName, cancellationToken: ct);
        }

        var now = clock.GetUtcNow().UtcDateTime;
        node.Status ??= new V1NodeStatus();
        node.Status.NodeInfo = new V1NodeSystemInfo
        {
            Architecture = arch,
            OperatingSystem = "linux",
            OsImage = info.OperatingSystem ?? "",
            KernelVersion = info.KernelVersion ?? "",
            ContainerRuntimeVersion = "docker://" + version.Version,
            KubeletVersion = "gentoo-builder-local",
            KubeProxyVersion = "",
            MachineID = info.ID ?? "",
            SystemUUID = info.ID ?? "",
            BootID = "",
        };
        var cpus = info.NCPU.ToString(CultureInfo.InvariantCulture);
        var memory = info.MemTotal.ToString(CultureInfo.InvariantCulture);
        node.Status.Capacity = new Dictionary<string, ResourceQuantity> { ["cpu"] = new(cpus), ["memory"] = new(memory), ["pods"] = new("110") };
        node.Status.Allocatable = node.Status.Capacity;
        node.Status.Conditions = [new V1NodeCondition { Type = "Ready", Status = "True", Reason = "KubeletReady", Message = "Docker " + version.Version, LastHeartbeatTime = now, LastTransitionTime = now }];
        await kube.CoreV1.ReplaceNodeStatusAsync(node, options.NodeName, cancellationToken: ct);
        log.LogInformation("Node {Node}: Docker {Version}, kernel {Kernel}", options.NodeName, version.Version, info.KernelVersion);
    }

    private async Task RunPodAsync(V1Pod pod, CancellationToken ct)
    {
        var directory = Path.Combine(options.StateDirectory, "pods", pod.Metadata.Uid);
        PodPlan plan;
        try
        {
            var services = (await kube.CoreV1.ListNamespacedServiceAsync(pod.Metadata.NamespaceProperty, cancellationToken: ct)).Items;
            plan = PodContainers.Plan(pod, options.NodeName, directory, await ConfigMapsAsync(pod, ct), await SecretsAsync(pod, ct),
                await ClaimVolumesAsync(pod, ct), new ServiceExposure([.. services], options.ServiceAddress));
            await PrepareAsync(pod, plan, ct);
        }
        catch (PodPlanException e)
        {
            // As a kubelet: the pod stays Pending with the reason on its containers, and is looked at again.
            await UpdateStatusAsync(pod, s => Waiting(s, pod, e.Reason, e.Message), ct);
            Forget(pod.Metadata.Uid);
            return;
        }

        var started = clock.GetUtcNow().UtcDateTime;
        await UpdateStatusAsync(pod, s =>
        {
            s.StartTime ??= started;
            s.Phase = PodPhases.Pending;
            s.Conditions = Condition(s.Conditions, "PodScheduled", "True", null, null);
        }, ct);

        var deadline = pod.Spec.ActiveDeadlineSeconds is { } seconds ? (pod.Status?.StartTime ?? started).AddSeconds(seconds) : (DateTime?)null;
        var initStatuses = new List<V1ContainerStatus>();
        foreach (var init in plan.InitContainers)
        {
            var ended = await RunToEndAsync(init, deadline, pod, ct);
            initStatuses.Add(ended.Status);
            if (ended.TimedOut || ended.Status.State.Terminated.ExitCode != 0)
            {
                await FinishAsync(pod, initStatuses, plan.Containers.Select(c => WaitingStatus(c.PodContainer, c.Image, "PodInitializing")).ToList(), ended.TimedOut, ct);
                Forget(pod.Metadata.Uid);
                return;
            }
        }

        var ids = new List<string>();
        foreach (var container in plan.Containers)
        {
            ids.Add(await CreateAndStartAsync(container, ct));
        }

        var running = new List<V1ContainerStatus>();
        foreach (var (container, id) in plan.Containers.Zip(ids))
        {
            running.Add(await StatusOfAsync(container, id, ct));
        }

        await UpdateStatusAsync(pod, s =>
        {
            s.Phase = PodPhases.Running;
            s.InitContainerStatuses = initStatuses;
            s.ContainerStatuses = running;
            s.Conditions = Condition(Condition(s.Conditions, "Initialized", "True", null, null), "Ready", "True", null, null);
        }, ct);

        var results = await Task.WhenAll(plan.Containers.Zip(ids).Select(p => WaitAsync(p.First, p.Second, deadline, pod, ct)));
        await FinishAsync(pod, initStatuses, results.Select(r => r.Status).ToList(), results.Any(r => r.TimedOut), ct);
        Forget(pod.Metadata.Uid);
    }

    /// <summary>The pod's run is over (it ended, or waits to be looked at again): the next pass decides what follows from its phase.</summary>
    private void Forget(string uid)
    {
        if (pods.TryRemove(uid, out var run))
        {
            run.Cancel.Dispose();
        }
    }

    private sealed record Ended(V1ContainerStatus Status, bool TimedOut);

    private async Task<Ended> RunToEndAsync(ContainerPlan container, DateTime? deadline, V1Pod pod, CancellationToken ct) =>
        await WaitAsync(container, await CreateAndStartAsync(container, ct), deadline, pod, ct);

    /// <summary>Waits for the container to end, stopping it gracefully at the pod's deadline; its status as the kubelet reports it.</summary>
    private async Task<Ended> WaitAsync(ContainerPlan container, string id, DateTime? deadline, V1Pod pod, CancellationToken ct)
    {
        var wait = docker.Containers.WaitContainerAsync(id, ct);
        var timedOut = false;
        if (deadline is { } due)
        {
            var left = due - clock.GetUtcNow().UtcDateTime;
            if (await Task.WhenAny(wait, Task.Delay(left > TimeSpan.Zero ? left : TimeSpan.Zero, clock, ct)) != wait)
            {
                timedOut = true;
                await StopContainerAsync(id, pod, ct);
            }
        }

        await wait;
        return new Ended(await StatusOfAsync(container, id, ct), timedOut);
    }

    private async Task FinishAsync(V1Pod pod, List<V1ContainerStatus> init, List<V1ContainerStatus> containers, bool timedOut, CancellationToken ct)
    {
        var failed = timedOut || init.Concat(containers).Any(c => c.State?.Terminated is { ExitCode: not 0 } || c.State?.Waiting is not null);
        await UpdateStatusAsync(pod, s =>
        {
            s.Phase = failed ? PodPhases.Failed : PodPhases.Succeeded;
            s.InitContainerStatuses = init;
            s.ContainerStatuses = containers;
            s.Conditions = Condition(s.Conditions, "Ready", "False", "PodCompleted", null);
            if (timedOut)
            {
                s.Reason = DeadlineExceeded;
                s.Message = $"Pod was active on the node longer than the specified deadline";
            }
        }, ct);
        log.LogInformation("Pod {Namespace}/{Pod} ended {Phase}", pod.Metadata.NamespaceProperty, pod.Metadata.Name, failed ? PodPhases.Failed : PodPhases.Succeeded);
    }

    /// <summary>The container's state from the engine, with its termination message once it has ended.</summary>
    private async Task<V1ContainerStatus> StatusOfAsync(ContainerPlan container, string id, CancellationToken ct)
    {
        var inspected = await docker.Containers.InspectContainerAsync(id, ct);
        var state = inspected.State ?? throw new InvalidOperationException($"container {container.Name} has no state");
        var status = new V1ContainerStatus { Name = container.PodContainer, Image = container.Image, ImageID = inspected.Image, ContainerID = "docker://" + id, Ready = state.Running, State = new V1ContainerState() };
        if (state.Running)
        {
            status.Started = true;
            status.State.Running = new V1ContainerStateRunning { StartedAt = Time(state.StartedAt) };
            return status;
        }

        var file = PodContainers.TerminationMessageFile(Path.Combine(options.StateDirectory, "pods", container.Labels[LocalNames.PodUidLabel]), container.PodContainer);
        var message = File.Exists(file) ? await File.ReadAllTextAsync(file, ct) : "";
        message = message.Length > 4096 ? message[..4096] : message;
        status.Started = false;
        var startError = !string.IsNullOrEmpty(state.Error);
        status.State.Terminated = new V1ContainerStateTerminated
        {
            ExitCode = startError && state.ExitCode == 0 ? 128 : (int)state.ExitCode,
            Reason = startError ? "StartError" : state.OOMKilled ? "OOMKilled" : state.ExitCode == 0 ? "Completed" : "Error",
            Message = startError ? state.Error : message.Length > 0 ? message : null,
            StartedAt = Time(state.StartedAt),
            // Docker stamps a process that exits at once as finished a moment before it noted it started; a kubelet never does.
            FinishedAt = Time(state.FinishedAt) is { } finished && Time(state.StartedAt) is { } started && finished < started ? started : Time(state.FinishedAt),
            ContainerID = "docker://" + id,
        };
        return status;
    }

    private static DateTime? Time(string? text) =>
        DateTime.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out var time) && time.Year > 1 ? time : null;

    /// <summary>Creates the container (or finds the one a previous run of this process made) and starts it unless it ran already.</summary>
    private async Task<string> CreateAndStartAsync(ContainerPlan container, CancellationToken ct)
    {
        var existing = (await docker.Containers.ListContainersAsync(new ContainersListParameters
        {
            All = true,
            Filters = new Dictionary<string, IDictionary<string, bool>> { ["name"] = new Dictionary<string, bool> { ["^/" + container.Name + "$"] = true } },
        }, ct)).FirstOrDefault();
        if (existing is not null)
        {
            return existing.ID; // adopted: running or ended, it is not started a second time
        }

        CreateContainerParameters Parameters(bool reduced)
        {
            var parameters = new CreateContainerParameters
            {
                Name = container.Name,
                Image = container.Image,
                Env = container.Environment.ToList(),
                Labels = container.Labels.ToDictionary(),
                ExposedPorts = container.Ports.ToDictionary(p => $"{p.ContainerPort}/{p.Protocol}", _ => new EmptyStruct()),
                HostConfig = new HostConfig
                {
                    Privileged = container.Privileged && !reduced,
                    CapAdd = reduced ? [.. PrivilegeFallback.Capabilities(PrivilegeFallback.BoundingSetOfThisProcess() ?? 0)] : [.. container.AddCapabilities],
                    SecurityOpt = reduced ? [.. PrivilegeFallback.SecurityOptions] : [],
                    CapDrop = [.. container.DropCapabilities],
                    PortBindings = container.Ports.ToDictionary(
                        p => $"{p.ContainerPort}/{p.Protocol}",
                        p => (IList<PortBinding>)[new PortBinding { HostIP = p.HostAddress, HostPort = p.HostPort.ToString(CultureInfo.InvariantCulture) }]),
                    NanoCPUs = container.NanoCpus ?? 0,
                    Memory = container.MemoryBytes ?? 0,
                    Mounts = container.Mounts.Select(m => new Mount
                    {
                        Type = m.Kind == MountKind.Volume ? "volume" : "bind",
                        Source = m.Source,
                        Target = m.Target,
                        ReadOnly = m.ReadOnly,
                    }).ToList(),
                },
            };
            if (reduced)
            {
                (parameters.HostConfig.MaskedPaths, parameters.HostConfig.ReadonlyPaths) = ([], []);
            }

            // Unset, the image's own: its ENTRYPOINT and CMD, its working directory and user. As in Kubernetes, a command
            // without args runs without the image's CMD.
            if (container.Entrypoint is { } entrypoint)
            {
                parameters.Entrypoint = [.. entrypoint];
                parameters.Cmd = [.. container.Command ?? []];
            }
            else if (container.Command is { } command)
            {
                parameters.Cmd = [.. command];
            }

            if (container.WorkingDirectory is { } workingDirectory)
            {
                parameters.WorkingDir = workingDirectory;
            }

            if (container.User is { } user)
            {
                parameters.User = user;
            }
            return parameters;
        }

        var reduced = container.Privileged && privilegeReduced;
        var created = await docker.Containers.CreateContainerAsync(Parameters(reduced), ct);
        try
        {
            await docker.Containers.StartContainerAsync(created.ID, new ContainerStartParameters(), ct);
        }
        catch (DockerApiException e) when (container.Privileged && !reduced && PrivilegeFallback.IsCapabilityRefusal(e.Message))
        {
            privilegeReduced = true;
            log.LogWarning("This Docker engine cannot grant every capability (it runs inside a container or a restricted VM): privileged pods run "
                + "with the capabilities it holds, unconfined by seccomp and AppArmor ({Message})", FirstLine(e.Message));
            await docker.Containers.RemoveContainerAsync(created.ID, new ContainerRemoveParameters { Force = true }, ct);
            created = await docker.Containers.CreateContainerAsync(Parameters(reduced: true), ct);
            await StartOrRecordAsync(created.ID, container.Name, ct);
        }
        catch (DockerApiException e)
        {
            LogStartError(container.Name, e);
        }

        return created.ID;
    }

    private async Task StartOrRecordAsync(string id, string name, CancellationToken ct)
    {
        try
        {
            await docker.Containers.StartContainerAsync(id, new ContainerStartParameters(), ct);
        }
        catch (DockerApiException e)
        {
            LogStartError(name, e);
        }
    }

    /// <summary>
    /// As a kubelet whose runtime could not start the process: the container ends with StartError, the engine's words in
    /// its message (the engine keeps them in the container's state too).
    /// </summary>
    private void LogStartError(string name, DockerApiException e) =>
        log.LogWarning("Container {Container} could not be started: {Message}", name, FirstLine(e.Message));

    /// <summary>The volumes the pod's claims are bound to, by claim name; a claim not bound is left out (the plan refuses the pod).</summary>
    private async Task<Dictionary<string, string>> ClaimVolumesAsync(V1Pod pod, CancellationToken ct)
    {
        var volumes = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var claim in (pod.Spec.Volumes ?? []).Select(v => v.PersistentVolumeClaim?.ClaimName).OfType<string>().Distinct())
        {
            var found = await CoreWrites.ReadOrNullAsync(() => kube.CoreV1.ReadNamespacedPersistentVolumeClaimAsync(claim, pod.Metadata.NamespaceProperty, cancellationToken: ct));
            if (found?.Spec?.VolumeName is { Length: > 0 } volume && found.Status?.Phase == "Bound")
            {
                volumes[claim] = volume;
            }
        }

        return volumes;
    }

    /// <summary>Volumes, the pod's files and the images, before any container is made.</summary>
    private async Task PrepareAsync(V1Pod pod, PodPlan plan, CancellationToken ct)
    {
        foreach (var volume in plan.ClaimVolumes)
        {
            // Docker would make a missing volume, empty, on mount: as a kubelet whose volume cannot be found, wait instead.
            if (await LocalVolumes.InspectOrNullAsync(docker, volume, ct) is null)
            {
                throw new PodPlanException("ContainerCreating", $"Unable to attach or mount volumes: Docker volume {volume} is missing (removed by hand?)");
            }
        }

        foreach (var directory in plan.ScratchDirectories)
        {
            Directory.CreateDirectory(directory);
            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(directory, (UnixFileMode)0b111_111_111); // 0777, whatever the umask, as the kubelet makes emptyDirs
            }
        }

        foreach (var file in plan.Files.Where(f => !(f.KeepExisting && File.Exists(f.Path))))
        {
            // Written beside and renamed into place, as the kubelet's atomic writer swaps ConfigMap and Secret volumes: a
            // container of a pod adopted after a restart, reading its configuration just then, never sees a file half written.
            Directory.CreateDirectory(Path.GetDirectoryName(file.Path)!);
            var written = file.Path + ".writing";
            await File.WriteAllBytesAsync(written, file.Content, ct);
            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(written, file.Mode);
            }

            File.Move(written, file.Path, overwrite: true);
        }

        foreach (var image in plan.InitContainers.Concat(plan.Containers).Select(c => c.Image).Distinct(StringComparer.Ordinal))
        {
            await EnsureImageAsync(image, ct);
        }
    }

    private async Task EnsureImageAsync(string image, CancellationToken ct)
    {
        try
        {
            await docker.Images.InspectImageAsync(image, ct);
            return;
        }
        catch (DockerImageNotFoundException)
        {
        }

        var now = clock.GetUtcNow().UtcDateTime;
        if (pullBackoff.TryGetValue(image, out var backoff) && now < backoff.Next)
        {
            throw new PodPlanException("ImagePullBackOff", $"Back-off pulling image \"{image}\": {backoff.Error}");
        }

        var (repository, tag) = SplitImage(image);
        try
        {
            await docker.Images.CreateImageAsync(new ImagesCreateParameters { FromImage = repository, Tag = tag }, null, new Progress<JSONMessage>(), ct);
            await docker.Images.InspectImageAsync(image, ct);
            pullBackoff.TryRemove(image, out _);
        }
        catch (Exception e) when (e is DockerApiException or DockerImageNotFoundException or HttpRequestException)
        {
            // 10 s, doubling up to 5 minutes, as the kubelet's image pull back-off.
            var delay = backoff.Delay == TimeSpan.Zero ? TimeSpan.FromSeconds(10) : TimeSpan.FromTicks(Math.Min(backoff.Delay.Ticks * 2, TimeSpan.FromMinutes(5).Ticks));
            var error = $"image {image} is not on this machine and could not be pulled: {FirstLine(e.Message)}";
            pullBackoff[image] = (now + delay, delay, error);
            throw new PodPlanException("ErrImagePull", error);
        }
    }

    private static (string Repository, string Tag) SplitImage(string image)
    {
        var slash = image.LastIndexOf('/');
        var colon = image.LastIndexOf(':');
        return colon > slash ? (image[..colon], image[(colon + 1)..]) : (image, "latest");
    }

    private static string FirstLine(string text) => text.Split('\n', 2)[0].Trim();

    private async Task StopContainerAsync(string id, V1Pod pod, CancellationToken ct)
    {
        var grace = pod.Metadata.DeletionGracePeriodSeconds ?? pod.Spec.TerminationGracePeriodSeconds ?? 30;
        await docker.Containers.StopContainerAsync(id, new ContainerStopParameters { WaitBeforeKillSeconds = (uint)Math.Max(0, grace) }, ct);
    }

    /// <summary>
    /// Containers of pods the API server no longer has (deleted at once, with no grace period to wait for) are stopped and
    /// removed with their scratch volumes and files, as the kubelet's garbage collection does; claims' volumes stay.
    /// </summary>
    private async Task CollectOrphansAsync(HashSet<string> podUids, CancellationToken ct)
    {
        var managed = new Dictionary<string, IDictionary<string, bool>> { ["label"] = new Dictionary<string, bool> { [LocalNames.NodeLabel + "=" + options.NodeName] = true } };
        var orphans = (await docker.Containers.ListContainersAsync(new ContainersListParameters { All = true, Filters = managed }, ct))
            .Where(c => c.Labels.TryGetValue(LocalNames.PodUidLabel, out var uid) && !podUids.Contains(uid))
            .GroupBy(c => c.Labels[LocalNames.PodUidLabel]);
        foreach (var pod in orphans)
        {
            Forget(pod.Key);
            foreach (var container in pod)
            {
                await docker.Containers.RemoveContainerAsync(container.ID, new ContainerRemoveParameters { Force = true }, ct);
            }

            RemovePodLeftovers(pod.Key);
            log.LogInformation("Removed the containers of pod {Pod} ({Uid}), which the API server no longer has", pod.First().Labels[LocalNames.PodLabel], pod.Key);
        }
    }

    /// <summary>Graceful deletion: the pod's containers stop with its grace period, then go with its volumes and files, then the pod.</summary>
    private async Task StopAndDeleteAsync(V1Pod pod, CancellationToken ct)
    {
        var uid = pod.Metadata.Uid;
        // The run stops making containers and waiting for them; the containers themselves are stopped below.
        if (pods.TryRemove(uid, out var running))
        {
            await running.Cancel.CancelAsync();
            await running.Run;
            running.Cancel.Dispose();
        }

        var filters = new Dictionary<string, IDictionary<string, bool>> { ["label"] = new Dictionary<string, bool> { [LocalNames.PodUidLabel + "=" + uid] = true } };
        var containers = await docker.Containers.ListContainersAsync(new ContainersListParameters { All = true, Filters = filters }, ct);
        await Task.WhenAll(containers.Where(c => c.State == "running").Select(c => StopContainerAsync(c.ID, pod, ct)));
        foreach (var container in containers)
        {
            await docker.Containers.RemoveContainerAsync(container.ID, new ContainerRemoveParameters { Force = true }, ct);
        }

        RemovePodLeftovers(uid);
        await DeleteNowAsync(pod, ct);
    }

    /// <summary>A pod's scratch directories and its files on this machine.</summary>
    private void RemovePodLeftovers(string uid)
    {
        var directory = Path.Combine(options.StateDirectory, "pods", uid);
        if (Directory.Exists(directory))
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    private async Task DeleteNowAsync(V1Pod pod, CancellationToken ct)
    {
        try
        {
            await kube.CoreV1.DeleteNamespacedPodAsync(pod.Metadata.Name, pod.Metadata.NamespaceProperty,
                new V1DeleteOptions { GracePeriodSeconds = 0, Preconditions = new V1Preconditions { Uid = pod.Metadata.Uid } }, cancellationToken: ct);
        }
        catch (HttpOperationException e) when (e.Response.StatusCode is HttpStatusCode.NotFound or HttpStatusCode.Conflict)
        {
        }
    }

    private Task<Dictionary<string, V1ConfigMap>> ConfigMapsAsync(V1Pod pod, CancellationToken ct) =>
        ReadAllAsync((pod.Spec.Volumes ?? []).SelectMany(v => v.ConfigMap is { } c ? [c.Name]
                : v.Projected?.Sources?.Where(s => s.ConfigMap is not null).Select(s => s.ConfigMap.Name) ?? [])
            .Concat(pod.Spec.Containers.Concat(pod.Spec.InitContainers ?? []).SelectMany(c => c.Env ?? []).Where(e => e.ValueFrom?.ConfigMapKeyRef is not null)
                .Select(e => e.ValueFrom.ConfigMapKeyRef.Name)),
            name => kube.CoreV1.ReadNamespacedConfigMapAsync(name, pod.Metadata.NamespaceProperty, cancellationToken: ct));

    private Task<Dictionary<string, V1Secret>> SecretsAsync(V1Pod pod, CancellationToken ct) =>
        ReadAllAsync((pod.Spec.Volumes ?? []).SelectMany(v => v.Secret is { } s ? [s.SecretName]
                : v.Projected?.Sources?.Where(p => p.Secret is not null).Select(p => p.Secret.Name) ?? []),
            name => kube.CoreV1.ReadNamespacedSecretAsync(name, pod.Metadata.NamespaceProperty, cancellationToken: ct));

    /// <summary>The named objects that exist, by name; the pod's plan decides what a missing one means.</summary>
    private static async Task<Dictionary<string, T>> ReadAllAsync<T>(IEnumerable<string> names, Func<string, Task<T>> read)
        where T : class
    {
        var found = new Dictionary<string, T>(StringComparer.Ordinal);
        foreach (var name in names.Distinct(StringComparer.Ordinal))
        {
            if (await CoreWrites.ReadOrNullAsync(() => read(name)) is { } item)
            {
                found[name] = item;
            }
        }

        return found;
    }

    /// <summary>Writes the pod's status as the kubelet does, through the status subresource, again on a fresh read after a conflict.</summary>
    private async Task UpdateStatusAsync(V1Pod pod, Action<V1PodStatus> change, CancellationToken ct)
    {
        for (var attempt = 1; ; attempt++)
        {
            V1Pod current;
            try
            {
                current = await kube.CoreV1.ReadNamespacedPodAsync(pod.Metadata.Name, pod.Metadata.NamespaceProperty, cancellationToken: ct);
            }
            catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.NotFound)
            {
                return;
            }

            if (current.Metadata.Uid != pod.Metadata.Uid)
            {
                return;
            }

            current.Status ??= new V1PodStatus();
            var before = KubernetesJson.Serialize(current.Status);
            change(current.Status);
            if (KubernetesJson.Serialize(current.Status) == before)
            {
                return; // as it is already: an unplaceable pod looked at again is not written again
            }

            try
            {
                await kube.CoreV1.ReplaceNamespacedPodStatusAsync(current, current.Metadata.Name, current.Metadata.NamespaceProperty, cancellationToken: ct);
                return;
            }
            catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.Conflict && attempt < 8)
            {
            }
        }
    }

    private static void Waiting(V1PodStatus status, V1Pod pod, string reason, string message)
    {
        status.Phase ??= PodPhases.Pending;
        status.ContainerStatuses = pod.Spec.Containers.Select(c => WaitingStatus(c.Name, c.Image, reason, message)).ToList();
    }

    private static V1ContainerStatus WaitingStatus(string name, string image, string reason, string? message = null) => new()
    {
        Name = name,
        Image = image,
        ImageID = "",
        Ready = false,
        State = new V1ContainerState { Waiting = new V1ContainerStateWaiting { Reason = reason, Message = message } },
    };

    private IList<V1PodCondition> Condition(IList<V1PodCondition>? conditions, string type, string status, string? reason, string? message)
    {
        var list = (conditions ?? []).Where(c => c.Type != type).ToList();
        var old = conditions?.FirstOrDefault(c => c.Type == type);
        list.Add(new V1PodCondition
        {
            Type = type,
            Status = status,
            Reason = reason,
            Message = message,
            LastTransitionTime = old?.Status == status ? old.LastTransitionTime : clock.GetUtcNow().UtcDateTime,
        });
        return list;
    }
}
