using System.Net;
using Gentoo.Entities.V1Alpha1;
using Gentoo.Runtime;
using k8s;
using k8s.Autorest;
using k8s.Models;

namespace Gentoo.Operator.Tests.Integration;

/// <summary>The API behaviour the runtime relies on, through the real KubernetesClient: what any API server must do.</summary>
[Collection(ClusterCollection.Name)]
public sealed class ApiServerTests(TestCluster cluster)
{
    [Fact]
    public async Task Installed_crds_serve_buildruns_with_defaults_applied()
    {
        var ns = await cluster.CreateNamespaceAsync();
        var api = new ResourceApi<BuildRun>(cluster.Kube);

        var created = await api.CreateAsync(TestCluster.NewBuildRun(ns, "firefox"), CancellationToken.None);

        created.Metadata.Generation.ShouldBe(1);
        created.Spec.OnFailure!.Policy.ShouldBe(FailurePolicy.AwaitOperator);
        created.Spec.EmergeArgs.ShouldBe(["--update", "--deep", "--newuse", "--with-bdeps=y"]);
        (await api.ListAsync(ns, CancellationToken.None)).Items.Select(r => r.Metadata.Name).ShouldBe(["firefox"]);
    }

    [Fact]
    public async Task A_status_phase_of_another_kind_is_refused_with_422_naming_status_phase()
    {
        var ns = await cluster.CreateNamespaceAsync();
        await new ResourceApi<BuildRun>(cluster.Kube).CreateAsync(TestCluster.NewBuildRun(ns, "firefox"), CancellationToken.None);

        // "Building" is a builder's phase, not a run's: the generated enum lets the API server refuse it, status subresource included.
        var error = await Should.ThrowAsync<HttpOperationException>(() => cluster.Kube.CustomObjects.PatchNamespacedCustomObjectStatusAsync(
            new V1Patch("""{"status":{"phase":"Building"}}""", V1Patch.PatchType.MergePatch), GroupVersion.Group, GroupVersion.Version, ns, "buildruns", "firefox"));

        ((int)error.Response.StatusCode).ShouldBe(422);
        error.Response.Content.ShouldContain("status.phase");
    }

    [Fact]
    public async Task Invalid_resource_is_refused_with_422_naming_the_field()
    {
        var ns = await cluster.CreateNamespaceAsync();
        var run = TestCluster.NewBuildRun(ns, "bad");
        run.Spec.Timeout = "forever";

        var error = await Should.ThrowAsync<HttpOperationException>(() => new ResourceApi<BuildRun>(cluster.Kube).CreateAsync(run, CancellationToken.None));

        ((int)error.Response.StatusCode).ShouldBe(422);
        error.Response.Content.ShouldContain("spec.timeout");
    }

    [Fact]
    public async Task Changing_builder_ref_is_refused_as_immutable()
    {
        var ns = await cluster.CreateNamespaceAsync();
        var api = new ResourceApi<BuildRun>(cluster.Kube);
        var run = await api.CreateAsync(TestCluster.NewBuildRun(ns, "firefox"), CancellationToken.None);
        run.Spec.BuilderRef = new LocalReference { Name = "another" };

        var error = await Should.ThrowAsync<HttpOperationException>(() => api.ReplaceAsync(run, CancellationToken.None));

        ((int)error.Response.StatusCode).ShouldBe(422);
        error.Response.Content.ShouldContain("spec.builderRef is immutable");
    }

    [Fact]
    public async Task Stale_update_is_a_conflict_and_spec_changes_bump_generation_but_status_does_not()
    {
        var ns = await cluster.CreateNamespaceAsync();
        var api = new ResourceApi<BuildRun>(cluster.Kube);
        var first = await api.CreateAsync(TestCluster.NewBuildRun(ns, "firefox"), CancellationToken.None);
        var stale = await api.GetAsync(ns, "firefox", CancellationToken.None);

        first.Spec.KeepGoing = true;
        var updated = await api.ReplaceAsync(first, CancellationToken.None);
        updated.Metadata.Generation.ShouldBe(2);

        stale!.Spec.KeepGoing = false;
        var conflict = await Should.ThrowAsync<HttpOperationException>(() => api.ReplaceAsync(stale, CancellationToken.None));
        conflict.Response.StatusCode.ShouldBe(HttpStatusCode.Conflict);

        updated.Status.Phase = BuildRunPhase.Running;
        var withStatus = await api.ReplaceStatusAsync(updated, CancellationToken.None);
        withStatus.Metadata.Generation.ShouldBe(2);
        withStatus.Status.Phase.ShouldBe(BuildRunPhase.Running);
    }

    [Fact]
    public async Task Create_of_an_existing_name_is_already_exists()
    {
        var ns = await cluster.CreateNamespaceAsync();
        var api = new ResourceApi<BuildRun>(cluster.Kube);
        await api.CreateAsync(TestCluster.NewBuildRun(ns, "firefox"), CancellationToken.None);

        var error = await Should.ThrowAsync<HttpOperationException>(() => api.CreateAsync(TestCluster.NewBuildRun(ns, "firefox"), CancellationToken.None));

        error.Response.StatusCode.ShouldBe(HttpStatusCode.Conflict);
        error.Response.Content.ShouldContain("AlreadyExists");
    }

    [Fact]
    public async Task A_secrets_string_data_is_merged_into_its_data_and_never_read_back()
    {
        var ns = await cluster.CreateNamespaceAsync();
        var created = await cluster.Kube.CoreV1.CreateNamespacedSecretAsync(new V1Secret
        {
            Metadata = new V1ObjectMeta { Name = "git" },
            Data = new Dictionary<string, byte[]> { ["username"] = "someone"u8.ToArray(), ["password"] = "old"u8.ToArray() },
            StringData = new Dictionary<string, string> { ["username"] = "builder" },
        }, ns);
        created.StringData.ShouldBeNull();

        created.StringData = new Dictionary<string, string> { ["password"] = "token" };
        await cluster.Kube.CoreV1.ReplaceNamespacedSecretAsync(created, "git", ns);

        var read = await cluster.Kube.CoreV1.ReadNamespacedSecretAsync("git", ns);
        read.StringData.ShouldBeNull();
        read.Data.ToDictionary(p => p.Key, p => System.Text.Encoding.UTF8.GetString(p.Value)).OrderBy(p => p.Key, StringComparer.Ordinal)
            .ShouldBe(new Dictionary<string, string> { ["password"] = "token", ["username"] = "builder" }); // a map: its order is the server's
    }

    [GarbageCollectorFact]
    public async Task Owned_objects_are_garbage_collected_with_their_owner()
    {
        var ns = await cluster.CreateNamespaceAsync();
        var api = new ResourceApi<BuildRun>(cluster.Kube);
        var run = await api.CreateAsync(TestCluster.NewBuildRun(ns, "firefox"), CancellationToken.None);
        await cluster.Kube.CoreV1.CreateNamespacedConfigMapAsync(new V1ConfigMap
        {
            Metadata = new V1ObjectMeta
            {
                Name = "owned",
                OwnerReferences = [new V1OwnerReference { ApiVersion = run.ApiVersion, Kind = run.Kind, Name = run.Metadata.Name, Uid = run.Metadata.Uid, Controller = true }],
            },
        }, ns);

        await api.DeleteAsync(ns, "firefox", CancellationToken.None);

        await Eventually.GetAsync(
            async () => (await cluster.Kube.CoreV1.ListNamespacedConfigMapAsync(ns)).Items.Any(c => c.Metadata.Name == "owned"),
            present => !present, "the owned ConfigMap to be collected");
    }

    [Fact]
    public async Task Recorded_event_names_the_object_reason_and_message()
    {
        var ns = await cluster.CreateNamespaceAsync();
        var run = await new ResourceApi<BuildRun>(cluster.Kube).CreateAsync(TestCluster.NewBuildRun(ns, "firefox"), CancellationToken.None);
        var recorder = new EventRecorder(cluster.Kube, TimeProvider.System, Microsoft.Extensions.Logging.Abstractions.NullLogger<EventRecorder>.Instance);

        await recorder.RecordAsync(run, "Warning", "KeywordChangeRequired", "accept dev-libs/nss:0 ~amd64", CancellationToken.None);

        var recorded = (await cluster.Kube.CoreV1.ListNamespacedEventAsync(ns)).Items.ShouldHaveSingleItem();
        recorded.InvolvedObject.Kind.ShouldBe("BuildRun");
        recorded.InvolvedObject.Name.ShouldBe("firefox");
        recorded.InvolvedObject.Uid.ShouldBe(run.Metadata.Uid);
        recorded.Reason.ShouldBe("KeywordChangeRequired");
        recorded.Type.ShouldBe("Warning");
        recorded.Message.ShouldBe("accept dev-libs/nss:0 ~amd64");
    }

    [Fact]
    public async Task The_same_event_again_raises_the_count_of_the_one_recorded_and_one_gone_is_recorded_anew()
    {
        var ns = await cluster.CreateNamespaceAsync();
        var run = await new ResourceApi<BuildRun>(cluster.Kube).CreateAsync(TestCluster.NewBuildRun(ns, "firefox"), CancellationToken.None);
        var clock = new SteppingClock(new DateTimeOffset(2026, 12, 3, 12, 0, 0, TimeSpan.Zero));
        var recorder = new EventRecorder(cluster.Kube, clock, Microsoft.Extensions.Logging.Abstractions.NullLogger<EventRecorder>.Instance);

        await recorder.RecordAsync(run, "Warning", "NodeUnreachable", "node-a has not been heard from", CancellationToken.None);
        clock.Step(TimeSpan.FromMinutes(2));
        await recorder.RecordAsync(run, "Warning", "NodeUnreachable", "node-a has not been heard from", CancellationToken.None);
        await recorder.RecordAsync(run, "Warning", "NodeUnreachable", "node-b has not been heard from", CancellationToken.None);

        var events = (await cluster.Kube.CoreV1.ListNamespacedEventAsync(ns)).Items;
        events.Count.ShouldBe(2);
        var again = events.Single(e => e.Message.Contains("node-a", StringComparison.Ordinal));
        again.Count.ShouldBe(2);
        again.FirstTimestamp.ShouldBe(new DateTime(2026, 12, 3, 12, 0, 0, DateTimeKind.Utc));
        again.LastTimestamp.ShouldBe(new DateTime(2026, 12, 3, 12, 2, 0, DateTimeKind.Utc));
        events.Single(e => e.Message.Contains("node-b", StringComparison.Ordinal)).Count.ShouldBe(1);

        // Events expire (kube-apiserver's --event-ttl): the next one like it is a new Event.
        await cluster.Kube.CoreV1.DeleteNamespacedEventAsync(again.Metadata.Name, ns);
        await recorder.RecordAsync(run, "Warning", "NodeUnreachable", "node-a has not been heard from", CancellationToken.None);
        var anew = (await cluster.Kube.CoreV1.ListNamespacedEventAsync(ns)).Items.Single(e => e.Message.Contains("node-a", StringComparison.Ordinal));
        anew.Count.ShouldBe(1);
        anew.Metadata.Name.ShouldNotBe(again.Metadata.Name);
    }

    private sealed class SteppingClock(DateTimeOffset start) : TimeProvider
    {
        private DateTimeOffset now = start;

        public override DateTimeOffset GetUtcNow() => now;

        public void Step(TimeSpan by) => now += by;
    }
}
