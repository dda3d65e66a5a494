using System.Globalization;
using System.Text.Json.Nodes;
using Gentoo.ApiServer.Api;

namespace Gentoo.Kubernetes.TestServer;

/// <summary>How a pod ends when the simulator runs it on its own.</summary>
/// <summary>How a simulated pod runs: <paramref name="RunningLog"/> is written as it starts, <paramref name="Log"/> as it ends after <paramref name="Delay"/>.</summary>
public sealed record PodScript(int ExitCode, string? TerminationMessage = null, string? Log = null, TimeSpan Delay = default, string? RunningLog = null);

/// <summary>
/// Stands in for the scheduler and the kubelets: binds pods to nodes that satisfy their nodeSelector, required node
/// affinity (In, NotIn, Exists, DoesNotExist, Gt, Lt) and taints; runs them; ends them with exit codes, termination
/// messages and log text; stops pods that are deleted (SIGTERM, exit 143) and then removes them.
/// </summary>
public sealed class KubeletSimulator(KubeApiServer server) : IAsyncDisposable
{
    private readonly CancellationTokenSource stopping = new();
    private readonly System.Collections.Concurrent.ConcurrentDictionary<(string Namespace, string Name), Task> stoppingPods = new();
    private readonly System.Collections.Concurrent.ConcurrentQueue<Exception> errors = new();
    private Task loop = Task.CompletedTask;

    /// <summary>Exceptions the simulator met handling changes (none, unless the simulator has a bug).</summary>
    public IReadOnlyCollection<Exception> Errors => errors;

    /// <summary>Pods start running as soon as they are bound; off leaves them Pending until <see cref="Run"/>.</summary>
    public bool AutoStart { get; set; } = true;

    /// <summary>How long a deleted running pod takes to stop (its process finishing after SIGTERM); zero stops it at once.</summary>
    public TimeSpan StopDelay { get; set; }

    /// <summary>Namespaces whose pods the simulator leaves alone (another kubelet stand-in drives them through the API).</summary>
    public System.Collections.Concurrent.ConcurrentDictionary<string, bool> IgnoredNamespaces { get; } = new();

    /// <summary>Decides, per running pod, whether and how it ends on its own; null keeps it running.</summary>
    public Func<JsonObject, PodScript?>? Script { get; set; }

    /// <summary>
    /// How long pods stay bound to a node that cannot be heard from before the taint manager deletes them: the default
    /// toleration of node.kubernetes.io/unreachable that admission gives every pod, 300 s.
    /// </summary>
    public TimeSpan UnreachableEviction { get; set; } = TimeSpan.FromSeconds(300);

    /// <summary>Nodes lost (<see cref="LoseNode"/>) and not back.</summary>
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, bool> lostNodes = new();

    /// <summary>Held while a node is lost or comes back and while a pod's end is parked: no end slips between the two.</summary>
    private readonly Lock nodeGate = new();

    /// <summary>Pods whose script ended them while their node was lost: nobody heard; they end when the node is back.</summary>
    private readonly System.Collections.Concurrent.ConcurrentDictionary<(string Namespace, string Name), PodScript> unheard = new();

    private ObjectStore Store => server.Store;

    private ResourceType Pods => Store.FindType("", "v1", "pods")!;

    private ResourceType Nodes => Store.FindType("", "v1", "nodes")!;

    private ResourceType Claims => Store.FindType("", "v1", "persistentvolumeclaims")!;

    internal void Start()
    {
        Store.GracefulPodDeletion = true;
        var changes = Store.Subscribe();
        loop = Task.Run(async () =>
        {
            try
            {
                await foreach (var change in changes.ReadAllAsync(stopping.Token))
                {
                    try
                    {
                        await OnChangeAsync(change);
                    }
                    catch (ApiException)
                    {
                        // The pod changed or went away meanwhile; the next event brings it back if it matters.
                    }
                    catch (Exception e) when (e is not OperationCanceledException)
                    {
                        // A bug here must not silently stop every later pod: keep going, and let tests look.
                        errors.Enqueue(e);
                    }
                }
            }
            catch (OperationCanceledException)
            {
            }
        });
    }

    public async ValueTask DisposeAsync()
    {
        await stopping.CancelAsync();
        await loop;
        stopping.Dispose();
    }

    /// <summary>Adds a Ready node reporting the given kernel release.</summary>
    public JsonObject AddNode(string name, string kernelVersion, IDictionary<string, string>? labels = null, JsonArray? taints = null)
    {
        var allLabels = new JsonObject { ["kubernetes.io/hostname"] = name, ["kubernetes.io/os"] = "linux", ["kubernetes.io/arch"] = "amd64" };
        foreach (var (key, value) in labels ?? new Dictionary<string, string>())
        {
            allLabels[key] = value;
        }

        return Store.Create(Nodes, "", new JsonObject
        {
            ["metadata"] = new JsonObject { ["name"] = name, ["labels"] = allLabels },
            ["spec"] = taints is null ? new JsonObject() : new JsonObject { ["taints"] = taints },
            ["status"] = new JsonObject
            {
                ["conditions"] = new JsonArray(new JsonObject { ["type"] = "Ready", ["status"] = "True", ["reason"] = "KubeletReady" }),
                ["nodeInfo"] = new JsonObject
                {
                    ["kernelVersion"] = kernelVersion,
                    ["osImage"] = "Gentoo Linux",
                    ["kubeletVersion"] = "v1.26.15",
                    ["containerRuntimeVersion"] = "containerd://1.7.20",
                    ["architecture"] = "amd64",
                    ["operatingSystem"] = "linux",
                },
            },
        });
    }

    /// <summary>
    /// Loses a node as a power cut or a network partition does, with the node lifecycle controller's answer: the node's
    /// Ready condition turns Unknown and it is tainted unreachable (nothing new is scheduled there), its pods are marked
    /// not ready but stay Running (nobody can say otherwise), nothing on it ends or is heard from, and after
    /// <see cref="UnreachableEviction"/> its pods are deleted, which leaves them Terminating for good: only the kubelet
    /// that is gone, a force deletion or the Node's deletion (pod garbage collection) removes them.
    /// </summary>
    public void LoseNode(string name)
    {
        lostNodes[name] = true;
        var node = Store.Get(Nodes, "", name);
        SetCondition(node, "Ready", "Unknown", "NodeStatusUnknown", "Kubelet stopped posting node status.");
        node = Store.Update(Nodes, "", name, node, "status");
        var taints = node["spec"]?["taints"] as JsonArray ?? [];
        foreach (var effect in new[] { "NoSchedule", "NoExecute" })
        {
            taints.Add(new JsonObject { ["key"] = UnreachableTaint, ["effect"] = effect, ["timeAdded"] = Now() });
        }

        node["spec"]!["taints"] = taints;
        Store.Update(Nodes, "", name, node, null);
        foreach (var pod in PodsOn(name).Where(p => p["status"]?["phase"]?.GetValue<string>() is "Pending" or "Running"))
        {
            SetCondition(pod, "Ready", "False", null, null);
            Store.Update(Pods, ObjectStore.Namespace(pod), Name(pod), pod, "status");
        }

        _ = Task.Run(async () =>
        {
            await Task.Delay(UnreachableEviction, stopping.Token);
            if (!lostNodes.ContainsKey(name))
            {
                return;
            }

            foreach (var pod in PodsOn(name).Where(p => p["metadata"]?["deletionTimestamp"] is null))
            {
                try
                {
                    Store.Delete(Pods, ObjectStore.Namespace(pod), Name(pod), null);
                }
                catch (ApiException)
                {
                    // Gone meanwhile.
                }
            }
        });
    }

    /// <summary>
    /// A lost node's kubelet posts its status again: the node is Ready and untainted, pods deleted meanwhile are stopped
    /// and removed, the others are ready again, and those that ended while nobody heard report how.
    /// </summary>
    public void ReturnNode(string name)
    {
        lock (nodeGate)
        {
            lostNodes.TryRemove(name, out _);
        }

        var node = Store.Get(Nodes, "", name);
        node["spec"]!["taints"] = new JsonArray((node["spec"]?["taints"] as JsonArray ?? [])
            .Where(t => t?["key"]?.GetValue<string>() != UnreachableTaint).Select(t => t!.DeepClone()).ToArray());
        node = Store.Update(Nodes, "", name, node, null);
        SetCondition(node, "Ready", "True", "KubeletReady", "kubelet is posting ready status");
        Store.Update(Nodes, "", name, node, "status");
        foreach (var pod in PodsOn(name))
        {
            var key = (ObjectStore.Namespace(pod), Name(pod));
            var phase = pod["status"]?["phase"]?.GetValue<string>();
            if (pod["metadata"]?["deletionTimestamp"] is not null)
            {
                if (phase is "Pending" or "Running")
                {
                    Terminate(pod, 143, "Error", null);
                }

                Store.ForceRemove(Pods, key.Item1, key.Item2);
            }
            else if (unheard.TryRemove(key, out var script))
            {
                Complete(key.Item1, key.Item2, script.ExitCode, script.TerminationMessage, script.Log);
            }
            else if (phase == "Running")
            {
                SetCondition(pod, "Ready", "True", null, null);
                Store.Update(Pods, key.Item1, key.Item2, pod, "status");
            }
            else if (phase == "Pending" && AutoStart && IsScheduled(pod))
            {
                MarkRunning(pod);
            }
        }
    }

    private const string UnreachableTaint = "node.kubernetes.io/unreachable";

    private IEnumerable<JsonObject> PodsOn(string node) =>
        Store.List(Pods, null, LabelSelector.Everything, FieldSelector.Parse(null)).Items.Where(p => p["spec"]?["nodeName"]?.GetValue<string>() == node);

    private bool OnLostNode(JsonObject pod) => pod["spec"]?["nodeName"]?.GetValue<string>() is { } node && lostNodes.ContainsKey(node);

    /// <summary>Starts a bound pod that is waiting because <see cref="AutoStart"/> is off.</summary>
    public void Run(string ns, string name) => MarkRunning(Store.Get(Pods, ns, name));

    /// <summary>Evicts a pod as a kubelet under memory pressure does: its containers killed (137), the pod Failed with reason Evicted.</summary>
    public void Evict(string ns, string name) =>
        Terminate(Store.Get(Pods, ns, name), 137, "Error", null, "Evicted", "The node was low on resource: memory. Threshold quantity: 100Mi, available: 42Mi.");

    /// <summary>Ends a pod's containers with an exit code, termination message and log text.</summary>
    public void Complete(string ns, string name, int exitCode, string? terminationMessage = null, string? log = null)
    {
        var pod = Store.Get(Pods, ns, name);
        if (log is not null)
        {
            server.AppendPodLog(ns, name, log);
        }

        Terminate(pod, exitCode, exitCode == 0 ? "Completed" : "Error", terminationMessage);
    }

    private async Task OnChangeAsync(ChangeEvent change)
    {
        if (change.TypeKey == Claims.Key)
        {
            // A claim created or gone may let a pod that waits for it be scheduled.
            var ns = ObjectStore.Namespace(change.New);
            foreach (var waiting in Store.List(Pods, ns, LabelSelector.Everything, FieldSelector.Parse(null)).Items
                         .Where(p => p["spec"]?["nodeName"] is null && p["metadata"]?["deletionTimestamp"] is null && !IgnoredNamespaces.ContainsKey(ns)))
            {
                Schedule(waiting);
            }

            return;
        }

        if (change.TypeKey == Nodes.Key && change.Type == "DELETED")
        {
            // Pod garbage collection: pods bound to a node that no longer exists are removed at once, as a force deletion does.
            var gone = Name(change.Old ?? change.New);
            lostNodes.TryRemove(gone, out _);
            foreach (var orphan in PodsOn(gone).ToList())
            {
                unheard.TryRemove((ObjectStore.Namespace(orphan), Name(orphan)), out _);
                Store.ForceRemove(Pods, ObjectStore.Namespace(orphan), Name(orphan));
            }

            return;
        }

        if (change.TypeKey == Nodes.Key)
        {
            foreach (var pending in Store.List(Pods, null, LabelSelector.Everything, FieldSelector.Parse(null)).Items
                         .Where(p => p["spec"]?["nodeName"] is null && p["metadata"]?["deletionTimestamp"] is null && !IgnoredNamespaces.ContainsKey(ObjectStore.Namespace(p))))
            {
                Schedule(pending);
            }

            return;
        }

        if (change.TypeKey != Pods.Key || change.Type == "DELETED" || IgnoredNamespaces.ContainsKey(ObjectStore.Namespace(change.New)))
        {
            return;
        }

        var pod = change.New;
        var phase = pod["status"]?["phase"]?.GetValue<string>();
        if (pod["metadata"]?["deletionTimestamp"] is not null)
        {
            if (OnLostNode(pod))
            {
                return; // no kubelet to stop it and confirm: Terminating until the node is back or a person forces it
            }

            var key = (ObjectStore.Namespace(pod), Name(pod));
            var running = phase is not ("Succeeded" or "Failed") && pod["spec"]?["nodeName"] is not null;
            if (running && StopDelay > TimeSpan.Zero)
            {
                _ = stoppingPods.GetOrAdd(key, k => Task.Run(async () =>
                {
                    await Task.Delay(StopDelay, stopping.Token);
                    try
                    {
                        Terminate(Store.Get(Pods, key.Item1, key.Item2), 143, "Error", null);
                        Store.ForceRemove(Pods, key.Item1, key.Item2);
                    }
                    catch (ApiException)
                    {
                    }
                    finally
                    {
                        stoppingPods.TryRemove(key, out _);
                    }
                }));
                return;
            }

            if (stoppingPods.ContainsKey(key))
            {
                return;
            }

            if (running)
            {
                Terminate(pod, 143, "Error", null);
            }

            Store.ForceRemove(Pods, key.Item1, key.Item2);
            return;
        }

        if (pod["spec"]?["nodeName"] is null)
        {
            Schedule(pod);
            return;
        }

        if (phase == "Pending" && AutoStart && IsScheduled(pod) && !OnLostNode(pod))
        {
            if (MountsOneClaimTwice(pod) is { } twice)
            {
                // The kubelet cannot attach one claim to two volumes of a pod: the pod never starts.
                WaitForVolumes(pod, twice);
                return;
            }

            MarkRunning(pod);
            return;
        }

        if (phase == "Running" && change.Old?["status"]?["phase"]?.GetValue<string>() != "Running"
            && JsonNumbers.Integer(pod["spec"]?["activeDeadlineSeconds"]) is { } deadline)
        {
            // activeDeadlineSeconds: the kubelet stops the pod (SIGTERM to its containers) and fails it as DeadlineExceeded.
            var ns = ObjectStore.Namespace(pod);
            var name = Name(pod);
            _ = Task.Run(async () =>
            {
                await Task.Delay(TimeSpan.FromSeconds(deadline), stopping.Token);
                try
                {
                    if (Store.Get(Pods, ns, name)["status"]?["phase"]?.GetValue<string>() == "Running")
                    {
                        Terminate(Store.Get(Pods, ns, name), 143, "Error", null, "DeadlineExceeded", "Pod was active on the node longer than the specified deadline");
                    }
                }
                catch (ApiException)
                {
                    // Deleted before its deadline.
                }
            });
        }

        if (phase == "Running" && change.Old?["status"]?["phase"]?.GetValue<string>() != "Running" && Script?.Invoke(pod) is { } script)
        {
            var ns = ObjectStore.Namespace(pod);
            var name = Name(pod);
            if (script.RunningLog is not null)
            {
                server.AppendPodLog(ns, name, script.RunningLog);
            }

            _ = Task.Run(async () =>
            {
                await Task.Delay(script.Delay, stopping.Token);
                try
                {
                    var current = Store.Get(Pods, ns, name);
                    if (current["status"]?["phase"]?.GetValue<string>() != "Running")
                    {
                        return; // ended meanwhile (evicted, stopped): a container that is gone exits no more
                    }

                    lock (nodeGate)
                    {
                        if (OnLostNode(current))
                        {
                            unheard[(ns, name)] = script;
                            return;
                        }
                    }

                    Complete(ns, name, script.ExitCode, script.TerminationMessage, script.Log);
                }
                catch (ApiException)
                {
                    // Deleted before it ended.
                }
            });
        }

        await Task.CompletedTask;
    }

    /// <summary>The first volume naming a claim an earlier volume of <paramref name="pod"/> already names, or null.</summary>
    private static string? MountsOneClaimTwice(JsonObject pod)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var volume in pod["spec"]?["volumes"] as JsonArray ?? [])
        {
            if (volume?["persistentVolumeClaim"]?["claimName"]?.GetValue<string>() is { } claim && !seen.Add(claim))
            {
                return volume["name"]?.GetValue<string>();
            }
        }

        return null;
    }

    private void WaitForVolumes(JsonObject pod, string volume)
    {
        var current = Store.Get(Pods, ObjectStore.Namespace(pod), Name(pod));
        var message = $"Unable to attach or mount volumes: unmounted volumes=[{volume}]: timed out waiting for the condition";
        if (current["status"]?["containerStatuses"]?[0]?["state"]?["waiting"]?["message"]?.GetValue<string>() == message)
        {
            return;
        }

        current["status"]!["containerStatuses"] = new JsonArray((current["spec"]?["containers"] as JsonArray ?? []).Select(c => (JsonNode)ContainerStatus(c!, new JsonObject
        {
            ["waiting"] = new JsonObject { ["reason"] = "ContainerCreating", ["message"] = message },
        }, ready: false)).ToArray());
        Store.Update(Pods, ObjectStore.Namespace(pod), Name(pod), current, "status");
    }

    /// <summary>What the scheduler's volume binding says of a pod whose claims are not all there to use; null when they are.</summary>
    private string? ClaimsUnusable(JsonObject pod)
    {
        var claimNames = (pod["spec"]?["volumes"] as JsonArray ?? [])
            .Select(v => v?["persistentVolumeClaim"]?["claimName"]?.GetValue<string>())
            .OfType<string>()
            .ToList();
        if (claimNames.Count == 0)
        {
            return null;
        }

        var claims = Store.List(Claims, ObjectStore.Namespace(pod), LabelSelector.Everything, FieldSelector.Parse(null)).Items.ToDictionary(Name);
        foreach (var name in claimNames)
        {
            var claim = claims.GetValueOrDefault(name);
            if (claim is null)
            {
                return $"persistentvolumeclaim \"{name}\" not found";
            }

            if (claim["metadata"]?["deletionTimestamp"] is not null)
            {
                return $"persistentvolumeclaim \"{name}\" is being deleted";
            }
        }

        return null;
    }

    private void Schedule(JsonObject pod)
    {
        var nodes = Store.List(Nodes, null, LabelSelector.Everything, FieldSelector.Parse(null)).Items;
        if (ClaimsUnusable(pod) is { } unusable)
        {
            var waiting = Store.Get(Pods, ObjectStore.Namespace(pod), Name(pod));
            var why = $"0/{nodes.Count} nodes are available: {unusable}.";
            if (Condition(waiting, "PodScheduled")?["message"]?.GetValue<string>() != why)
            {
                SetCondition(waiting, "PodScheduled", "False", "Unschedulable", why);
                Store.Update(Pods, ObjectStore.Namespace(pod), Name(pod), waiting, "status");
            }

            return;
        }

        var reasons = new Dictionary<string, int>();
        JsonObject? chosen = null;
        foreach (var node in nodes)
        {
            var reason = Unfit(pod, node);
            if (reason is null)
            {
                chosen = node;
                break;
            }

            reasons[reason] = reasons.GetValueOrDefault(reason) + 1;
        }

        var ns = ObjectStore.Namespace(pod);
        if (chosen is null)
        {
            var message = $"0/{nodes.Count} nodes are available: " + string.Join(", ", reasons.Select(r => $"{r.Value} {r.Key}")) + ".";
            var current = Store.Get(Pods, ns, Name(pod));
            if (Condition(current, "PodScheduled")?["message"]?.GetValue<string>() == message)
            {
                return;
            }

            SetCondition(current, "PodScheduled", "False", "Unschedulable", message);
            Store.Update(Pods, ns, Name(pod), current, "status");
            return;
        }

        var bound = Store.Get(Pods, ns, Name(pod));
        bound["spec"]!["nodeName"] = Name(chosen);
        bound = Store.Update(Pods, ns, Name(pod), bound, null);
        SetCondition(bound, "PodScheduled", "True", null, null);
        bound["status"]!["hostIP"] = "192.168.0." + ((Math.Abs(Name(chosen).GetHashCode(StringComparison.Ordinal)) % 200) + 10);
        Store.Update(Pods, ns, Name(pod), bound, "status");
    }

    /// <summary>Why the node cannot take the pod, worded like the scheduler's summary; null when it can.</summary>
    private static string? Unfit(JsonObject pod, JsonObject node)
    {
        if (node["spec"]?["unschedulable"]?.GetValue<bool>() == true)
        {
            return "node(s) were unschedulable";
        }

        if (Condition(node, "Ready")?["status"]?.GetValue<string>() != "True")
        {
            return "node(s) were not ready";
        }

        var labels = node["metadata"]?["labels"] as JsonObject ?? [];
        var selector = pod["spec"]?["nodeSelector"] as JsonObject ?? [];
        var terms = pod["spec"]?["affinity"]?["nodeAffinity"]?["requiredDuringSchedulingIgnoredDuringExecution"]?["nodeSelectorTerms"] as JsonArray;
        if (selector.Any(p => labels[p.Key]?.GetValue<string>() != p.Value?.GetValue<string>())
            || (terms is { Count: > 0 } && !terms.Any(term => (term?["matchExpressions"] as JsonArray ?? []).All(e => Matches(e!, labels)))))
        {
            return "node(s) didn't match Pod's node affinity/selector";
        }

        var tolerations = pod["spec"]?["tolerations"] as JsonArray ?? [];
        foreach (var taint in node["spec"]?["taints"] as JsonArray ?? [])
        {
            var effect = taint?["effect"]?.GetValue<string>();
            if (effect is "NoSchedule" or "NoExecute" && !tolerations.Any(t => Tolerates(t!, taint!)))
            {
                return $"node(s) had untolerated taint {{{taint?["key"]}: {taint?["value"]}}}";
            }
        }

        return null;
    }

    private static bool Matches(JsonNode expression, JsonObject labels)
    {
        var key = expression["key"]!.GetValue<string>();
        var values = (expression["values"] as JsonArray ?? []).Select(v => v!.GetValue<string>()).ToList();
        var present = labels.TryGetPropertyValue(key, out var label);
        var value = label?.GetValue<string>();
        return expression["operator"]!.GetValue<string>() switch
        {
            "In" => present && values.Contains(value!),
            "NotIn" => !present || !values.Contains(value!),
            "Exists" => present,
            "DoesNotExist" => !present,
            "Gt" => present && long.TryParse(value, CultureInfo.InvariantCulture, out var gt) && gt > long.Parse(values.Single(), CultureInfo.InvariantCulture),
            "Lt" => present && long.TryParse(value, CultureInfo.InvariantCulture, out var lt) && lt < long.Parse(values.Single(), CultureInfo.InvariantCulture),
            _ => false,
        };
    }

    private static bool Tolerates(JsonNode toleration, JsonNode taint)
    {
        var effect = toleration["effect"]?.GetValue<string>();
        if (!string.IsNullOrEmpty(effect) && effect != taint["effect"]?.GetValue<string>())
        {
            return false;
        }

        var key = toleration["key"]?.GetValue<string>();
        if (toleration["operator"]?.GetValue<string>() == "Exists")
        {
            return string.IsNullOrEmpty(key) || key == taint["key"]?.GetValue<string>();
        }

        return key == taint["key"]?.GetValue<string>() && toleration["value"]?.GetValue<string>() == taint["value"]?.GetValue<string>();
    }

    private static bool IsScheduled(JsonObject pod) => Condition(pod, "PodScheduled")?["status"]?.GetValue<string>() == "True";

    private void MarkRunning(JsonObject pod)
    {
        var current = Store.Get(Pods, ObjectStore.Namespace(pod), Name(pod));
        var now = Now();
        var status = current["status"]!.AsObject();
        status["phase"] = "Running";
        status["startTime"] = now;
        status["podIP"] = "10.42.0." + ((Math.Abs(Name(pod).GetHashCode(StringComparison.Ordinal)) % 200) + 10);
        status["initContainerStatuses"] = new JsonArray((current["spec"]?["initContainers"] as JsonArray ?? []).Select(c => (JsonNode)ContainerStatus(c!, new JsonObject
        {
            ["terminated"] = new JsonObject { ["exitCode"] = 0, ["reason"] = "Completed", ["startedAt"] = now, ["finishedAt"] = now },
        }, ready: false)).ToArray());
        status["containerStatuses"] = new JsonArray((current["spec"]?["containers"] as JsonArray ?? []).Select(c => (JsonNode)ContainerStatus(c!, new JsonObject
        {
            ["running"] = new JsonObject { ["startedAt"] = now },
        }, ready: true)).ToArray());
        SetCondition(current, "Initialized", "True", null, null);
        SetCondition(current, "Ready", "True", null, null);
        SetCondition(current, "ContainersReady", "True", null, null);
        Store.Update(Pods, ObjectStore.Namespace(pod), Name(pod), current, "status");
    }

    private void Terminate(JsonObject pod, int exitCode, string reason, string? message, string? podReason = null, string? podMessage = null)
    {
        var current = Store.Get(Pods, ObjectStore.Namespace(pod), Name(pod));
        if (podReason is not null)
        {
            current["status"]!["reason"] = podReason;
            current["status"]!["message"] = podMessage;
        }

        var now = Now();
        var status = current["status"]!.AsObject();
        var started = status["startTime"]?.GetValue<string>() ?? now;
        status["phase"] = exitCode == 0 ? "Succeeded" : "Failed";
        var terminated = new JsonObject { ["exitCode"] = exitCode, ["reason"] = reason, ["startedAt"] = started, ["finishedAt"] = now };
        if (message is not null)
        {
            terminated["message"] = message;
        }

        status["containerStatuses"] = new JsonArray((current["spec"]?["containers"] as JsonArray ?? []).Select(c => (JsonNode)ContainerStatus(c!, new JsonObject
        {
            ["terminated"] = terminated.DeepClone(),
        }, ready: false)).ToArray());
        SetCondition(current, "Ready", "False", "PodCompleted", null);
        SetCondition(current, "ContainersReady", "False", "PodCompleted", null);
        Store.Update(Pods, ObjectStore.Namespace(pod), Name(pod), current, "status");
    }

    private static JsonObject ContainerStatus(JsonNode container, JsonObject state, bool ready) => new()
    {
        ["name"] = container["name"]!.DeepClone(),
        ["image"] = container["image"]?.DeepClone(),
        ["imageID"] = "sha256:" + Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(container["image"]?.ToString() ?? ""))),
        ["containerID"] = "containerd://" + Guid.NewGuid().ToString("N"),
        ["ready"] = ready,
        ["started"] = ready,
        ["restartCount"] = 0,
        ["state"] = state,
    };

    private static JsonObject? Condition(JsonObject obj, string type) =>
        (obj["status"]?["conditions"] as JsonArray)?.OfType<JsonObject>().FirstOrDefault(c => c["type"]?.GetValue<string>() == type);

    private static void SetCondition(JsonObject obj, string type, string status, string? reason, string? message)
    {
        var statusNode = obj["status"] as JsonObject ?? new JsonObject();
        obj["status"] = statusNode;
        var conditions = statusNode["conditions"] as JsonArray ?? [];
        statusNode["conditions"] = conditions;
        var condition = conditions.OfType<JsonObject>().FirstOrDefault(c => c["type"]?.GetValue<string>() == type);
        if (condition is null)
        {
            condition = new JsonObject { ["type"] = type };
            conditions.Add(condition);
        }

        if (condition["status"]?.GetValue<string>() != status)
        {
            condition["lastTransitionTime"] = Now();
        }

        condition["status"] = status;
        condition["reason"] = reason;
        condition["message"] = message;
    }

    private static string Name(JsonObject obj) => obj["metadata"]!["name"]!.GetValue<string>();

    private static string Now() => DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture);
}
