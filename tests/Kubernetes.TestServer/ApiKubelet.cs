using System.Net;
using Gentoo.Runtime;
using k8s;
using k8s.Autorest;
using k8s.Models;

namespace Gentoo.Kubernetes.TestServer;

/// <summary>
/// Stands in for the scheduler, a kubelet and the pvc-protection controller through the API alone, so lifecycle tests
/// run on any API server, envtest included (it has none of them): binds the namespace's pods to one node (pods/binding)
/// once their claims exist and are not being deleted, reports them running and ready unless they mount one claim twice
/// (which a kubelet cannot attach), ends those that do not restart always as the script says with an exit code and
/// termination message, finishes graceful deletions, and lets a claim being deleted go once no pod names it, as
/// Kubernetes 1.26 does. Its node renews its Lease in kube-node-lease as a kubelet does, so on a cluster the node
/// lifecycle controller keeps it Ready.
/// </summary>
public sealed class ApiKubelet : IAsyncDisposable
{
    private readonly IKubernetes kube;
    private readonly string ns;
    private readonly string node;
    private readonly Func<string, PodScript?> script;
    private readonly CancellationTokenSource stop = new();
    private readonly Task loop;
    private readonly Task heartbeat;

    /// <summary>While true the node is lost: nothing on it is started, ended or stopped, as when its kubelet is gone.</summary>
    private volatile bool lost;

    private ApiKubelet(IKubernetes kube, string ns, string node, Func<string, PodScript?> script)
    {
        this.kube = kube;
        this.ns = ns;
        this.node = node;
        this.script = script;
        loop = Task.Run(RunAsync);
        heartbeat = Task.Run(RenewLeaseAsync);
    }

    /// <summary>
    /// Registers a Ready node reporting <paramref name="kernel"/>, labelled as a kubelet labels its node (hostname, os,
    /// arch) and with <paramref name="labels"/>, tainted with <paramref name="taints"/>, and starts driving the namespace's pods.
    /// </summary>
    public static async Task<ApiKubelet> StartAsync(
        IKubernetes kube, string ns, string kernel, IDictionary<string, string>? labels, Func<string, PodScript?> script, IList<V1Taint>? taints = null)
    {
        var name = NodeName(ns);
        var nodeLabels = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            [HostnameLabel] = name,
            ["kubernetes.io/os"] = "linux",
            ["kubernetes.io/arch"] = "amd64",
        };
        foreach (var (key, value) in labels ?? new Dictionary<string, string>())
        {
            nodeLabels[key] = value;
        }

        var created = await kube.CoreV1.CreateNodeAsync(new V1Node
        {
            Metadata = new V1ObjectMeta { Name = name, Labels = nodeLabels },
            Spec = taints is null ? null : new V1NodeSpec { Taints = taints },
        });
        var resources = new Dictionary<string, ResourceQuantity>
        {
            ["cpu"] = new("16"), ["memory"] = new("64Gi"), ["pods"] = new("110"), ["ephemeral-storage"] = new("500Gi"),
        };
        created.Status = new V1NodeStatus
        {
            Capacity = resources,
            Allocatable = resources,
            Conditions = [new V1NodeCondition { Type = "Ready", Status = "True", Reason = "KubeletReady", LastHeartbeatTime = DateTime.UtcNow, LastTransitionTime = DateTime.UtcNow }],
            NodeInfo = new V1NodeSystemInfo
            {
                KernelVersion = kernel, Architecture = "amd64", OperatingSystem = "linux", OsImage = "Gentoo Linux", ContainerRuntimeVersion = "containerd://2.0.0",
                KubeletVersion = "v1.26.0", KubeProxyVersion = "v1.26.0", MachineID = "m", SystemUUID = "s", BootID = "b",
            },
        };
        await kube.CoreV1.ReplaceNodeStatusAsync(created, name);
        return new ApiKubelet(kube, ns, name, script);
    }

    /// <summary>The well-known label a kubelet gives its node, its name: what a nodeSelector pins pods to one node with.</summary>
    public const string HostnameLabel = "kubernetes.io/hostname";

    /// <summary>The node <see cref="StartAsync"/> registers for a namespace.</summary>
    public static string NodeName(string ns) => "node-" + ns;

    /// <summary>Ends a running pod now, whatever the script says; a conflicting write is tried again on a fresh read, as a kubelet does.</summary>
    public Task CompleteAsync(string pod, int exitCode, string? message) => EndAsync(pod, _ => { }, exitCode, message);

    /// <summary>Evicts a running pod as a kubelet under memory pressure does: its containers killed (137), the pod Failed with reason Evicted.</summary>
    public Task EvictAsync(string pod) => EndAsync(pod, p =>
    {
        p.Status.Reason = "Evicted";
        p.Status.Message = "The node was low on resource: memory. Threshold quantity: 100Mi, available: 42Mi.";
    }, 137, null);

    private async Task EndAsync(string pod, Action<V1Pod> mark, int exitCode, string? message)
    {
        for (var attempt = 1; ; attempt++)
        {
            var current = await kube.CoreV1.ReadNamespacedPodAsync(pod, ns);
            try
            {
                mark(current);
                await TerminateAsync(current, exitCode, message);
                return;
            }
            catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.Conflict && attempt < 10)
            {
                // The loop wrote the pod meanwhile (running, say): read it again and end it from there.
            }
        }
    }

    /// <summary>
    /// Loses the node as the node lifecycle controller reports it: Ready Unknown, tainted unreachable, its pods not ready
    /// but Running; from now on nothing on it moves, and deleting its pods leaves them Terminating.
    /// </summary>
    public async Task LoseNodeAsync()
    {
        lost = true;
        var current = await kube.CoreV1.ReadNodeAsync(node);
        current.Spec ??= new V1NodeSpec();
        current.Spec.Taints = [.. current.Spec.Taints ?? [], new V1Taint { Effect = "NoSchedule", Key = Unreachable, TimeAdded = DateTime.UtcNow }, new V1Taint { Effect = "NoExecute", Key = Unreachable, TimeAdded = DateTime.UtcNow }];
        current = await kube.CoreV1.ReplaceNodeAsync(current, node);
        SetReady(current, "Unknown", "NodeStatusUnknown", "Kubelet stopped posting node status.");
        await kube.CoreV1.ReplaceNodeStatusAsync(current, node);
        await SetPodsReadyAsync("False", p => p.Status?.Phase is "Pending" or "Running");
    }

    /// <summary>The node's kubelet is back: the node Ready and untainted, and its pods moving again (deleted ones stopped and removed).</summary>
    public async Task ReturnNodeAsync()
    {
        var current = await kube.CoreV1.ReadNodeAsync(node);
        current.Spec ??= new V1NodeSpec();
        current.Spec.Taints = [.. (current.Spec.Taints ?? []).Where(t => t.Key != Unreachable)];
        current = await kube.CoreV1.ReplaceNodeAsync(current, node);
        SetReady(current, "True", "KubeletReady", "kubelet is posting ready status");
        await kube.CoreV1.ReplaceNodeStatusAsync(current, node);
        // The kubelet posts its pods' status again: the running ones ready, as before the node was lost.
        await SetPodsReadyAsync("True", p => p.Status?.Phase == "Running" && p.Metadata.DeletionTimestamp is null);
        lost = false;
    }

    /// <summary>The Ready condition of the pods on this node that <paramref name="which"/> picks.</summary>
    private async Task SetPodsReadyAsync(string status, Func<V1Pod, bool> which)
    {
        foreach (var pod in (await kube.CoreV1.ListNamespacedPodAsync(ns)).Items.Where(p => p.Spec.NodeName == node && which(p)))
        {
            pod.Status.Conditions = [.. (pod.Status.Conditions ?? []).Where(c => c.Type != "Ready"), new V1PodCondition { Type = "Ready", Status = status, LastTransitionTime = DateTime.UtcNow }];
            await kube.CoreV1.ReplaceNamespacedPodStatusAsync(pod, pod.Name(), ns);
        }
    }

    private const string Unreachable = "node.kubernetes.io/unreachable";

    private static void SetReady(V1Node node, string status, string reason, string message) =>
        node.Status.Conditions = [.. (node.Status.Conditions ?? []).Where(c => c.Type != "Ready"),
            new V1NodeCondition { Type = "Ready", Status = status, Reason = reason, Message = message, LastHeartbeatTime = DateTime.UtcNow, LastTransitionTime = DateTime.UtcNow }];

    /// <summary>
    /// A kubelet's heartbeat: the node's Lease in kube-node-lease, renewed every 10 seconds of its 40, owned by the node
    /// (so it goes with it); none while the node is lost, which is what a node lifecycle controller notices.
    /// </summary>
    private async Task RenewLeaseAsync()
    {
        while (!stop.IsCancellationRequested)
        {
            try
            {
                if (!lost)
                {
                    await RenewLeaseOnceAsync(stop.Token);
                }

                await Task.Delay(TimeSpan.FromSeconds(10), stop.Token);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (HttpOperationException e) when (e.Response.StatusCode is HttpStatusCode.Conflict or HttpStatusCode.NotFound)
            {
                // Renewed or removed meanwhile (the node deleted by a test): the next beat, a second on, sees it as it is.
                await Task.Delay(TimeSpan.FromSeconds(1), CancellationToken.None);
            }
        }
    }

    private async Task RenewLeaseOnceAsync(CancellationToken ct)
    {
        const string LeaseNamespace = "kube-node-lease";
        var now = DateTime.UtcNow;
        if (await CoreWrites.ReadOrNullAsync(() => kube.CoordinationV1.ReadNamespacedLeaseAsync(node, LeaseNamespace, cancellationToken: ct)) is { } lease)
        {
            lease.Spec.RenewTime = now;
            await kube.CoordinationV1.ReplaceNamespacedLeaseAsync(lease, node, LeaseNamespace, cancellationToken: ct);
            return;
        }

        var owner = await kube.CoreV1.ReadNodeAsync(node, cancellationToken: ct);
        await kube.CoordinationV1.CreateNamespacedLeaseAsync(new V1Lease
        {
            Metadata = new V1ObjectMeta
            {
                Name = node,
                OwnerReferences = [new V1OwnerReference { ApiVersion = "v1", Kind = "Node", Name = node, Uid = owner.Uid() }],
            },
            Spec = new V1LeaseSpec { HolderIdentity = node, LeaseDurationSeconds = 40, RenewTime = now },
        }, LeaseNamespace, cancellationToken: ct);
    }

    private async Task RunAsync()
    {
        while (!stop.IsCancellationRequested)
        {
            try
            {
                var pods = (await kube.CoreV1.ListNamespacedPodAsync(ns, cancellationToken: stop.Token)).Items;
                var claims = (await kube.CoreV1.ListNamespacedPersistentVolumeClaimAsync(ns, cancellationToken: stop.Token)).Items;
                var nodeGone = await CoreWrites.ReadOrNullAsync(() => kube.CoreV1.ReadNodeAsync(node, cancellationToken: stop.Token)) is null;
                foreach (var pod in pods)
                {
                    if (nodeGone && pod.Spec.NodeName == node)
                    {
                        // Pod garbage collection: a pod bound to a node that no longer exists is force-deleted.
                        await CoreWrites.DeleteIfPresentAsync(() => kube.CoreV1.DeleteNamespacedPodAsync(pod.Name(), ns, new V1DeleteOptions { GracePeriodSeconds = 0 }, cancellationToken: stop.Token));
                    }
                    else if (!(lost && pod.Spec.NodeName == node))
                    {
                        await StepAsync(pod, claims);
                    }
                }

                await ReleaseUnusedClaimsAsync(pods, claims);

                await Task.Delay(50, stop.Token);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (HttpOperationException e) when (e.Response.StatusCode is HttpStatusCode.Conflict or HttpStatusCode.NotFound)
            {
                // The pod moved on meanwhile; the next round sees it as it is.
            }
        }
    }

    /// <summary>The pvc-protection controller of Kubernetes 1.26: any pod naming a claim, finished ones too, keeps it.</summary>
    private async Task ReleaseUnusedClaimsAsync(IList<V1Pod> pods, IList<V1PersistentVolumeClaim> claims)
    {
        const string Protection = "kubernetes.io/pvc-protection";
        foreach (var claim in claims.Where(c => c.Metadata.DeletionTimestamp is not null && c.Metadata.Finalizers?.Contains(Protection) == true))
        {
            if (!pods.Any(p => p.Spec.Volumes?.Any(v => v.PersistentVolumeClaim?.ClaimName == claim.Name()) == true))
            {
                claim.Metadata.Finalizers = [.. claim.Metadata.Finalizers!.Where(f => f != Protection)];
                await kube.CoreV1.ReplaceNamespacedPersistentVolumeClaimAsync(claim, claim.Name(), ns, cancellationToken: stop.Token);
            }
        }
    }

    private async Task StepAsync(V1Pod pod, IList<V1PersistentVolumeClaim> claims)
    {
        var phase = pod.Status?.Phase;
        if (pod.Metadata.DeletionTimestamp is not null)
        {
            if (phase is "Pending" or "Running" && pod.Spec.NodeName is not null)
            {
                await TerminateAsync(pod, 143, null);
            }

            await kube.CoreV1.DeleteNamespacedPodAsync(pod.Name(), ns, new V1DeleteOptions { GracePeriodSeconds = 0 }, cancellationToken: stop.Token);
            return;
        }

        var named = pod.Spec.Volumes?.Select(v => v.PersistentVolumeClaim?.ClaimName).OfType<string>().ToList() ?? [];
        if (string.IsNullOrEmpty(pod.Spec.NodeName))
        {
            if (lost)
            {
                return; // the only node is tainted unreachable: the scheduler leaves the pod Pending
            }

            if (named.Any(n => claims.FirstOrDefault(c => c.Name() == n) is null or { Metadata.DeletionTimestamp: not null }))
            {
                return; // the scheduler's volume binding: a claim that is missing or being deleted keeps the pod Pending
            }

            await kube.CoreV1.CreateNamespacedPodBindingAsync(
                new V1Binding { Metadata = new V1ObjectMeta { Name = pod.Name() }, Target = new V1ObjectReference { Kind = "Node", Name = node } }, pod.Name(), ns,
                cancellationToken: stop.Token);
            return;
        }

        if (phase is null or "Pending")
        {
            if (named.Count != named.Distinct().Count())
            {
                return; // a kubelet cannot attach one claim to two volumes of a pod: it never starts
            }

            var now = DateTime.UtcNow;
            pod.Status ??= new V1PodStatus();
            pod.Status.Phase = "Running";
            pod.Status.StartTime = now;
            // Ready as a kubelet reports a pod without readiness probes once its containers run (a Deployment counts it available).
            pod.Status.Conditions = [.. new[] { "PodScheduled", "Initialized", "ContainersReady", "Ready" }.Select(type => new V1PodCondition { Type = type, Status = "True", LastTransitionTime = now })];
            pod.Status.ContainerStatuses = pod.Spec.Containers.Select(c => new V1ContainerStatus
            {
                Name = c.Name, Image = c.Image, ImageID = "", Ready = true, RestartCount = 0, Started = true,
                State = new V1ContainerState { Running = new V1ContainerStateRunning { StartedAt = now } },
            }).ToList();
            await kube.CoreV1.ReplaceNamespacedPodStatusAsync(pod, pod.Name(), ns, cancellationToken: stop.Token);
            return;
        }

        if (phase == "Running" && pod.Spec.ActiveDeadlineSeconds is { } deadline && pod.Status!.StartTime + TimeSpan.FromSeconds(deadline) <= DateTime.UtcNow)
        {
            // activeDeadlineSeconds: a kubelet stops the pod and fails it as DeadlineExceeded.
            pod.Status.Reason = "DeadlineExceeded";
            pod.Status.Message = "Pod was active on the node longer than the specified deadline";
            await TerminateAsync(pod, 143, null);
            return;
        }

        // A kubelet restarts the containers of a pod that restarts always (a Deployment's: the binhost) whatever they exit
        // with; the pod never ends, or its ReplicaSet would make another at once.
        if (phase == "Running" && script(pod.Name()) is { } outcome && Ends(pod, outcome) && pod.Status!.StartTime + outcome.Delay <= DateTime.UtcNow)
        {
            await TerminateAsync(pod, outcome.ExitCode, outcome.TerminationMessage);
        }
    }

    private static bool Ends(V1Pod pod, PodScript outcome) => pod.Spec.RestartPolicy switch
    {
        "Never" => true,
        "OnFailure" => outcome.ExitCode == 0,
        _ => false, // Always, which the API server fills in where a pod names none
    };

    private async Task TerminateAsync(V1Pod pod, int exitCode, string? message)
    {
        var now = DateTime.UtcNow;
        pod.Status.Phase = exitCode == 0 ? "Succeeded" : "Failed";
        pod.Status.ContainerStatuses = pod.Spec.Containers.Select(c => new V1ContainerStatus
        {
            Name = c.Name, Image = c.Image, ImageID = "", Ready = false, RestartCount = 0, Started = false,
            State = new V1ContainerState
            {
                Terminated = new V1ContainerStateTerminated
                {
                    ExitCode = exitCode, Reason = exitCode == 0 ? "Completed" : "Error", Message = message, StartedAt = pod.Status.StartTime, FinishedAt = now,
                },
            },
        }).ToList();
        await kube.CoreV1.ReplaceNamespacedPodStatusAsync(pod, pod.Name(), ns, cancellationToken: stop.Token);
    }

    public async ValueTask DisposeAsync()
    {
        await stop.CancelAsync();
        await loop;
        await heartbeat;
        stop.Dispose();
        try
        {
            await kube.CoreV1.DeleteNodeAsync(node);
        }
        catch (HttpOperationException)
        {
        }
    }
}
