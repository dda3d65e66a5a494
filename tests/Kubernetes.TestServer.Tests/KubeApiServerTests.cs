using System.Net;
using System.Text.Json;
using Gentoo.Kubernetes.TestServer;
using Gentoo.Runtime;
using k8s;
using k8s.Autorest;
using k8s.Models;

namespace Gentoo.Kubernetes.TestServer.Tests;

/// <summary>The test server itself: watch semantics, patches, selectors, faults and the kubelet simulator, through KubernetesClient.</summary>
public sealed class KubeApiServerTests : IAsyncLifetime
{
    private KubeApiServer server = null!;
    private k8s.Kubernetes kube = null!;

    public async Task InitializeAsync()
    {
        server = await KubeApiServer.StartAsync(new EmbeddedApiServerOptions { BookmarkInterval = TimeSpan.FromMilliseconds(200) });
        kube = new k8s.Kubernetes(server.ClientConfiguration());
        await kube.CoreV1.CreateNamespaceAsync(new V1Namespace { Metadata = new V1ObjectMeta { Name = "t" } });
    }

    public async Task DisposeAsync()
    {
        kube.Dispose();
        await server.DisposeAsync();
    }

    private Task<V1ConfigMap> CreateConfigMapAsync(string name, IDictionary<string, string>? labels = null) =>
        kube.CoreV1.CreateNamespacedConfigMapAsync(new V1ConfigMap { Metadata = new V1ObjectMeta { Name = name, Labels = labels } }, "t");

    [Fact]
    public async Task Watch_from_a_resource_version_replays_what_came_after_it_and_sends_bookmarks()
    {
        var first = await CreateConfigMapAsync("a");
        await CreateConfigMapAsync("b");
        await kube.CoreV1.DeleteNamespacedConfigMapAsync("a", "t");

        var events = new List<(WatchEventType, string)>();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
#pragma warning disable CS0618
        var watch = kube.CoreV1.ListNamespacedConfigMapWithHttpMessagesAsync("t", allowWatchBookmarks: true, resourceVersion: first.Metadata.ResourceVersion, watch: true, cancellationToken: timeout.Token)
            .WatchAsync<V1ConfigMap, V1ConfigMapList>(cancellationToken: timeout.Token);
#pragma warning restore CS0618
        await foreach (var (type, item) in watch)
        {
            events.Add((type, item.Metadata.Name ?? ""));
            if (type == WatchEventType.Bookmark)
            {
                break;
            }
        }

        events.ShouldBe([(WatchEventType.Added, "b"), (WatchEventType.Deleted, "a"), (WatchEventType.Bookmark, "")]);
    }

    [Fact]
    public async Task A_bookmark_follows_every_change_up_to_its_resource_version_and_a_watch_hears_only_its_own_resource_and_namespace()
    {
        // A client re-watches from a bookmark's resourceVersion: a change before it that was not sent yet would be lost.
        await kube.CoreV1.CreateNamespaceAsync(new V1Namespace { Metadata = new V1ObjectMeta { Name = "elsewhere" } });
        var start = await CreateConfigMapAsync("start");
        var events = new List<(WatchEventType Type, string Kind, string Namespace, string Name, long Version)>();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
#pragma warning disable CS0618
        var watch = kube.CoreV1.ListNamespacedConfigMapWithHttpMessagesAsync("t", allowWatchBookmarks: true, resourceVersion: start.Metadata.ResourceVersion, watch: true, cancellationToken: timeout.Token)
            .WatchAsync<V1ConfigMap, V1ConfigMapList>(cancellationToken: timeout.Token);
#pragma warning restore CS0618
        var writing = Task.Run(async () =>
        {
            // Writes for more than two bookmark intervals, eight at once (so changes queue up for the watch), with other
            // kinds and namespaces in between.
            await Parallel.ForAsync(0, 400, new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (i, ct) =>
            {
                await CreateConfigMapAsync($"cm-{i}");
                await kube.CoreV1.CreateNamespacedSecretAsync(new V1Secret { Metadata = new V1ObjectMeta { Name = $"s-{i}" } }, "t", cancellationToken: ct);
                await kube.CoreV1.CreateNamespacedConfigMapAsync(new V1ConfigMap { Metadata = new V1ObjectMeta { Name = $"cm-{i}" } }, "elsewhere", cancellationToken: ct);
            });
        });
        var bookmarksAfterWriting = 0;
        await foreach (var (type, item) in watch)
        {
            events.Add((type, item.Kind ?? "", item.Metadata.NamespaceProperty ?? "", item.Metadata.Name ?? "", long.Parse(item.Metadata.ResourceVersion, System.Globalization.CultureInfo.InvariantCulture)));
            if (type == WatchEventType.Bookmark && writing.IsCompleted && ++bookmarksAfterWriting == 2)
            {
                break;
            }
        }

        await writing;
        var changes = events.Where(e => e.Type != WatchEventType.Bookmark).ToList();
        changes.Select(e => e.Name).Order(StringComparer.Ordinal).ShouldBe(Enumerable.Range(0, 400).Select(i => $"cm-{i}").Order(StringComparer.Ordinal));
        changes.ShouldAllBe(e => e.Type == WatchEventType.Added && e.Kind == "ConfigMap" && e.Namespace == "t");
        events.Count(e => e.Type == WatchEventType.Bookmark).ShouldBeGreaterThan(2, "the writes spanned several bookmark intervals");
        for (var i = 0; i < events.Count; i++)
        {
            if (events[i].Type == WatchEventType.Bookmark)
            {
                events.Skip(i + 1).Where(e => e.Type != WatchEventType.Bookmark)
                    .ShouldAllBe(e => e.Version > events[i].Version, $"a change came after the bookmark of version {events[i].Version} that covered it");
            }
        }
    }

    [Fact]
    public async Task An_object_a_finalizer_holds_shows_a_deletion_grace_period_of_0_as_kube_apiserver_gives_all_but_pods()
    {
        await kube.CoreV1.CreateNamespacedConfigMapAsync(new V1ConfigMap { Metadata = new V1ObjectMeta { Name = "held", Finalizers = ["example.org/hold"] } }, "t");

        await kube.CoreV1.DeleteNamespacedConfigMapAsync("held", "t", new V1DeleteOptions { GracePeriodSeconds = 300 });

        var held = await kube.CoreV1.ReadNamespacedConfigMapAsync("held", "t");
        held.Metadata.DeletionTimestamp.ShouldNotBeNull();
        held.Metadata.DeletionGracePeriodSeconds.ShouldBe(0);
    }

    [Fact]
    public async Task Watch_from_a_compacted_resource_version_answers_410_gone()
    {
        var first = await CreateConfigMapAsync("a");
        await CreateConfigMapAsync("b");
        server.Store.Compact();
        KubernetesException? gone = null;

#pragma warning disable CS0618
        var watch = kube.CoreV1.ListNamespacedConfigMapWithHttpMessagesAsync("t", resourceVersion: first.Metadata.ResourceVersion, watch: true)
            .WatchAsync<V1ConfigMap, V1ConfigMapList>(e => gone = e as KubernetesException);
#pragma warning restore CS0618
        await foreach (var _ in watch)
        {
        }

        gone.ShouldNotBeNull().Status.Code.ShouldBe(410);
    }

    [Fact]
    public async Task Label_selector_filters_lists()
    {
        await CreateConfigMapAsync("a", new Dictionary<string, string> { ["tier"] = "build" });
        await CreateConfigMapAsync("b", new Dictionary<string, string> { ["tier"] = "serve" });
        await CreateConfigMapAsync("c");

        (await kube.CoreV1.ListNamespacedConfigMapAsync("t", labelSelector: "tier=build")).Items.Select(c => c.Metadata.Name).ShouldBe(["a"]);
        (await kube.CoreV1.ListNamespacedConfigMapAsync("t", labelSelector: "tier in (build,serve)")).Items.Count.ShouldBe(2);
        (await kube.CoreV1.ListNamespacedConfigMapAsync("t", labelSelector: "!tier")).Items.Select(c => c.Metadata.Name).ShouldBe(["c"]);
    }

    [Fact]
    public async Task Generate_name_makes_unique_names_and_json_patch_edits_in_place()
    {
        var made = await kube.CoreV1.CreateNamespacedConfigMapAsync(new V1ConfigMap { Metadata = new V1ObjectMeta { GenerateName = "cfg-" }, Data = new Dictionary<string, string> { ["a"] = "1" } }, "t");
        made.Metadata.Name.ShouldStartWith("cfg-");
        made.Metadata.Name.Length.ShouldBe(9);

        var patch = """[{"op":"replace","path":"/data/a","value":"2"},{"op":"add","path":"/data/b","value":"3"}]""";
        var patched = await kube.CoreV1.PatchNamespacedConfigMapAsync(new V1Patch(patch, V1Patch.PatchType.JsonPatch), made.Metadata.Name, "t");

        patched.Data.ShouldBe(new Dictionary<string, string> { ["a"] = "2", ["b"] = "3" });
    }

    [Fact]
    public async Task Merge_patch_with_a_stale_resource_version_is_a_conflict()
    {
        var made = await CreateConfigMapAsync("a");
        await kube.CoreV1.PatchNamespacedConfigMapAsync(new V1Patch("""{"data":{"x":"1"}}""", V1Patch.PatchType.MergePatch), "a", "t");

        var stale = JsonSerializer.Serialize(new { metadata = new { resourceVersion = made.Metadata.ResourceVersion }, data = new { x = "2" } });
        var error = await Should.ThrowAsync<HttpOperationException>(() => kube.CoreV1.PatchNamespacedConfigMapAsync(new V1Patch(stale, V1Patch.PatchType.MergePatch), "a", "t"));

        error.Response.StatusCode.ShouldBe(HttpStatusCode.Conflict);
    }

    [Fact]
    public async Task Injected_failures_answer_with_the_status_code_then_stop()
    {
        server.Faults.FailNext(2, 429);

        var first = await Should.ThrowAsync<HttpOperationException>(() => kube.CoreV1.ListNamespacedConfigMapAsync("t"));
        first.Response.StatusCode.ShouldBe(HttpStatusCode.TooManyRequests);
        await Should.ThrowAsync<HttpOperationException>(() => kube.CoreV1.ListNamespacedConfigMapAsync("t"));
        (await kube.CoreV1.ListNamespacedConfigMapAsync("t")).Items.ShouldBeEmpty();
    }

    [Fact]
    public async Task Not_found_answers_with_a_status_body_naming_the_object()
    {
        var error = await Should.ThrowAsync<HttpOperationException>(() => kube.CoreV1.ReadNamespacedConfigMapAsync("missing", "t"));

        error.Response.StatusCode.ShouldBe(HttpStatusCode.NotFound);
        var status = KubernetesJson.Deserialize<V1Status>(error.Response.Content);
        status.Reason.ShouldBe("NotFound");
        status.Message.ShouldBe("configmaps \"missing\" not found");
    }

    [Fact]
    public async Task Deleting_a_namespace_deletes_its_objects()
    {
        await kube.CoreV1.CreateNamespaceAsync(new V1Namespace { Metadata = new V1ObjectMeta { Name = "gone" } });
        await kube.CoreV1.CreateNamespacedConfigMapAsync(new V1ConfigMap { Metadata = new V1ObjectMeta { Name = "a" } }, "gone");

        await kube.CoreV1.DeleteNamespaceAsync("gone");

        (await kube.CoreV1.ListNamespaceAsync()).Items.ShouldNotContain(n => n.Metadata.Name == "gone");
        (await kube.CoreV1.ListConfigMapForAllNamespacesAsync()).Items.ShouldNotContain(c => c.Metadata.NamespaceProperty == "gone");
    }

    [Fact]
    public async Task Kubelet_simulator_places_pods_by_kernel_label_runs_them_and_reports_exit_codes_messages_and_logs()
    {
        server.Kubelet.AddNode("old-kernel", "5.15.0-91-generic", new Dictionary<string, string> { ["gentoobuilder.io/kernel"] = "331520" });
        server.Kubelet.AddNode("new-kernel", "6.6.30-gentoo", new Dictionary<string, string> { ["gentoobuilder.io/kernel"] = "394782" });
        var pod = new V1Pod
        {
            Metadata = new V1ObjectMeta { Name = "build-1" },
            Spec = new V1PodSpec
            {
                RestartPolicy = "Never",
                Containers = [new V1Container { Name = "build", Image = "gentoo/stage3" }],
                Affinity = new V1Affinity
                {
                    NodeAffinity = new V1NodeAffinity
                    {
                        RequiredDuringSchedulingIgnoredDuringExecution = new V1NodeSelector
                        {
                            NodeSelectorTerms = [new V1NodeSelectorTerm { MatchExpressions = [new V1NodeSelectorRequirement { Key = "gentoobuilder.io/kernel", OperatorProperty = "Gt", Values = ["393471"] }] }],
                        },
                    },
                },
            },
        };
        await kube.CoreV1.CreateNamespacedPodAsync(pod, "t");

        var running = await Eventually.GetAsync(() => kube.CoreV1.ReadNamespacedPodAsync("build-1", "t"), p => p.Status.Phase == "Running", "the pod to run");
        running.Spec.NodeName.ShouldBe("new-kernel");

        server.Kubelet.Complete("t", "build-1", 2, """{"outcome":"BuildFailure"}""", ">>> Emerging (1 of 1) www-client/firefox-128.0\n * ERROR: www-client/firefox-128.0::gentoo failed (compile phase):\n");
        var done = await Eventually.GetAsync(() => kube.CoreV1.ReadNamespacedPodAsync("build-1", "t"), p => p.Status.Phase == "Failed", "the pod to fail");
        var terminated = done.Status.ContainerStatuses.Single().State.Terminated;
        terminated.ExitCode.ShouldBe(2);
        terminated.Message.ShouldBe("""{"outcome":"BuildFailure"}""");
        using var log = await kube.CoreV1.ReadNamespacedPodLogAsync("build-1", "t");
        (await new StreamReader(log).ReadToEndAsync()).ShouldContain("failed (compile phase)");
    }

    [Fact]
    public async Task Pod_that_no_node_fits_stays_pending_with_the_schedulers_reason()
    {
        server.Kubelet.AddNode("tainted", "6.1.0", taints: [new System.Text.Json.Nodes.JsonObject { ["key"] = "dedicated", ["value"] = "gpu", ["effect"] = "NoSchedule" }]);
        await kube.CoreV1.CreateNamespacedPodAsync(new V1Pod
        {
            Metadata = new V1ObjectMeta { Name = "nowhere" },
            Spec = new V1PodSpec { Containers = [new V1Container { Name = "c", Image = "x" }], NodeSelector = new Dictionary<string, string> { ["missing"] = "label" } },
        }, "t");

        var pending = await Eventually.GetAsync(() => kube.CoreV1.ReadNamespacedPodAsync("nowhere", "t"),
            p => p.Status.Conditions?.Any(c => c.Type == "PodScheduled" && c.Reason == "Unschedulable") == true, "the scheduler's verdict");

        pending.Status.Phase.ShouldBe("Pending");
        pending.Status.Conditions.Single(c => c.Type == "PodScheduled").Message.ShouldStartWith("0/1 nodes are available");
    }

    [Fact]
    public async Task Deleted_running_pod_is_stopped_then_removed()
    {
        server.Kubelet.AddNode("n1", "6.1.0");
        await kube.CoreV1.CreateNamespacedPodAsync(new V1Pod { Metadata = new V1ObjectMeta { Name = "p" }, Spec = new V1PodSpec { Containers = [new V1Container { Name = "c", Image = "x" }] } }, "t");
        await Eventually.GetAsync(() => kube.CoreV1.ReadNamespacedPodAsync("p", "t"), p => p.Status.Phase == "Running", "the pod to run");

        await kube.CoreV1.DeleteNamespacedPodAsync("p", "t");

        await Eventually.GetAsync(async () => (await kube.CoreV1.ListNamespacedPodAsync("t")).Items.Count, n => n == 0, "the pod to be removed");
    }

    [Fact]
    public async Task ApiKubelet_registers_a_node_as_a_kubelet_does_and_keeps_its_lease_in_kube_node_lease()
    {
        await using var kubelet = await ApiKubelet.StartAsync(kube, "t", "6.6.30-gentoo", new Dictionary<string, string> { ["pool"] = "builds" }, _ => null,
            taints: [new V1Taint { Key = "dedicated", Value = "builds", Effect = "NoSchedule" }]);
        var name = ApiKubelet.NodeName("t");

        var node = await kube.CoreV1.ReadNodeAsync(name);
        node.Metadata.Labels.ShouldContainKeyAndValue(ApiKubelet.HostnameLabel, name);
        node.Metadata.Labels.ShouldContainKeyAndValue("kubernetes.io/os", "linux");
        node.Metadata.Labels.ShouldContainKeyAndValue("pool", "builds");
        node.Spec.Taints.ShouldHaveSingleItem().Key.ShouldBe("dedicated");
        node.Status.Allocatable.ShouldContainKey("cpu", "a scheduler fits pods to what a node can take");
        node.Status.NodeInfo.KernelVersion.ShouldBe("6.6.30-gentoo");

        // A node lifecycle controller marks a node whose lease is not renewed NotReady within 40 seconds.
        var lease = await Eventually.GetAsync(
            () => CoreWrites.ReadOrNullAsync(() => kube.CoordinationV1.ReadNamespacedLeaseAsync(name, "kube-node-lease")), l => l is not null, "the node's lease");
        lease!.Spec.HolderIdentity.ShouldBe(name);
        lease.Spec.RenewTime.ShouldNotBeNull();
        lease.Metadata.OwnerReferences.ShouldHaveSingleItem().Uid.ShouldBe(node.Uid());
    }

    [Fact]
    public async Task ApiKubelet_ends_a_pod_as_its_script_says_only_when_the_pod_does_not_restart_always()
    {
        await using var kubelet = await ApiKubelet.StartAsync(kube, "t", "6.6.30-gentoo", null, _ => new PodScript(0, "done"));
        V1Pod Pod(string name, string? restartPolicy) => new()
        {
            Metadata = new V1ObjectMeta { Name = name },
            Spec = new V1PodSpec { RestartPolicy = restartPolicy, Containers = [new V1Container { Name = "c", Image = "busybox" }] },
        };
        await kube.CoreV1.CreateNamespacedPodAsync(Pod("server", "Always"), "t");
        await kube.CoreV1.CreateNamespacedPodAsync(Pod("defaulted", null), "t");
        foreach (var name in new[] { "server", "defaulted" })
        {
            await Eventually.GetAsync(() => kube.CoreV1.ReadNamespacedPodAsync(name, "t"), p => p.Status?.Phase == "Running", $"{name} to run");
        }

        // Bound, started and ended in rounds after the others were running: rounds in which the script had them end too.
        await kube.CoreV1.CreateNamespacedPodAsync(Pod("job", "Never"), "t");
        await Eventually.GetAsync(() => kube.CoreV1.ReadNamespacedPodAsync("job", "t"), p => p.Status?.Phase == "Succeeded", "the job pod to end");
        foreach (var name in new[] { "server", "defaulted" })
        {
            (await kube.CoreV1.ReadNamespacedPodAsync(name, "t")).Status.Phase.ShouldBe("Running", $"{name}: a kubelet restarts its containers instead");
        }
    }
}
