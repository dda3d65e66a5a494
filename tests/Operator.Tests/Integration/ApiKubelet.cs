using System.Net;
using Gentoo.Kubernetes.TestServer;
using k8s;
using k8s.Autorest;
using k8s.Models;

namespace Gentoo.Operator.Tests.Integration;

/// <summary>
/// Stands in for the scheduler and a kubelet through the API alone, so lifecycle tests run on any API server, envtest
/// included (it has neither): binds the namespace's pods to one node (pods/binding), reports them running, ends them
/// as the script says with an exit code and termination message, and finishes graceful deletions.
/// </summary>
public sealed class ApiKubelet : IAsyncDisposable
{
    private readonly IKubernetes kube;
    private readonly string ns;
    private readonly string node;
    private readonly Func<string, PodScript?> script;
    private readonly CancellationTokenSource stop = new();
    private readonly Task loop;

    private ApiKubelet(IKubernetes kube, string ns, string node, Func<string, PodScript?> script)
    {
        this.kube = kube;
        this.ns = ns;
        this.node = node;
        this.script = script;
        loop = Task.Run(RunAsync);
    }

    /// <summary>Registers a Ready node reporting <paramref name="kernel"/> and starts driving the namespace's pods.</summary>
    public static async Task<ApiKubelet> StartAsync(IKubernetes kube, string ns, string kernel, IDictionary<string, string>? labels, Func<string, PodScript?> script)
    {
        var name = "node-" + ns;
        var created = await kube.CoreV1.CreateNodeAsync(new V1Node { Metadata = new V1ObjectMeta { Name = name, Labels = labels } });
        created.Status = new V1NodeStatus
        {
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

    /// <summary>Ends a running pod now, whatever the script says.</summary>
    public async Task CompleteAsync(string pod, int exitCode, string? message)
    {
        var current = await kube.CoreV1.ReadNamespacedPodAsync(pod, ns);
        await TerminateAsync(current, exitCode, message);
    }

    private async Task RunAsync()
    {
        while (!stop.IsCancellationRequested)
        {
            try
            {
                foreach (var pod in (await kube.CoreV1.ListNamespacedPodAsync(ns, cancellationToken: stop.Token)).Items)
                {
                    await StepAsync(pod);
                }

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

    private async Task StepAsync(V1Pod pod)
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

        if (string.IsNullOrEmpty(pod.Spec.NodeName))
        {
            await kube.CoreV1.CreateNamespacedPodBindingAsync(
                new V1Binding { Metadata = new V1ObjectMeta { Name = pod.Name() }, Target = new V1ObjectReference { Kind = "Node", Name = node } }, pod.Name(), ns,
                cancellationToken: stop.Token);
            return;
        }

        if (phase is null or "Pending")
        {
            var now = DateTime.UtcNow;
            pod.Status ??= new V1PodStatus();
            pod.Status.Phase = "Running";
            pod.Status.StartTime = now;
            pod.Status.Conditions = [new V1PodCondition { Type = "PodScheduled", Status = "True", LastTransitionTime = now }];
            pod.Status.ContainerStatuses = pod.Spec.Containers.Select(c => new V1ContainerStatus
            {
                Name = c.Name, Image = c.Image, ImageID = "", Ready = true, RestartCount = 0, Started = true,
                State = new V1ContainerState { Running = new V1ContainerStateRunning { StartedAt = now } },
            }).ToList();
            await kube.CoreV1.ReplaceNamespacedPodStatusAsync(pod, pod.Name(), ns, cancellationToken: stop.Token);
            return;
        }

        if (phase == "Running" && script(pod.Name()) is { } outcome && pod.Status!.StartTime + outcome.Delay <= DateTime.UtcNow)
        {
            await TerminateAsync(pod, outcome.ExitCode, outcome.TerminationMessage);
        }
    }

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
