using System.Text.Json;
using Gentoo.Entities.V1Alpha1;
using Gentoo.Runtime;
using k8s;
using k8s.Autorest;
using k8s.Models;

namespace Gentoo.Operator.Tests.Integration;

[Collection(ClusterCollection.Name)]
public sealed class RuntimeTests(TestCluster cluster)
{
    [TestServerFact]
    public async Task Watch_dropped_mid_stream_loses_no_event()
    {
        var ns = await cluster.CreateNamespaceAsync();
        var reconciler = new ScriptedReconciler();
        await using var runtime = new RuntimeHarness(cluster, ns, reconciler);
        var seen = new System.Collections.Concurrent.ConcurrentDictionary<string, byte>();
        runtime.Informer.AddHandler(e => seen[e.Object.Metadata.Name] = 0);
        await runtime.StartAsync();

        for (var i = 0; i < 60; i++)
        {
            await runtime.Api.CreateAsync(TestCluster.NewBuildRun(ns, $"run-{i}"), CancellationToken.None);
            if (i % 7 == 3)
            {
                cluster.Server!.Faults.DropAllWatches();
            }
        }

        await Eventually.TrueAsync(() => seen.Count == 60, "every created BuildRun to reach the handler");
        runtime.Informer.List().Count.ShouldBe(60);
        await Eventually.TrueAsync(() => Enumerable.Range(0, 60).All(i => reconciler.CallsFor($"run-{i}") > 0), "every BuildRun to be reconciled");
        (runtime.Metrics.WatchRestarts.WithLabels("BuildRun", "closed").Value + runtime.Metrics.WatchRestarts.WithLabels("BuildRun", "error").Value).ShouldBeGreaterThan(0);
    }

    [TestServerFact]
    public async Task Gone_relists_and_the_cache_converges_with_deletions_reported()
    {
        var ns = await cluster.CreateNamespaceAsync();
        var reconciler = new ScriptedReconciler();
        await using var runtime = new RuntimeHarness(cluster, ns, reconciler);
        for (var i = 0; i < 5; i++)
        {
            await runtime.Api.CreateAsync(TestCluster.NewBuildRun(ns, $"run-{i}"), CancellationToken.None);
        }

        var deleted = new System.Collections.Concurrent.ConcurrentBag<string>();
        runtime.Informer.AddHandler(e =>
        {
            if (e.Type == CacheEventType.Deleted)
            {
                deleted.Add(e.Object.Metadata.Name);
            }
        });
        await runtime.StartAsync();
        runtime.Informer.List().Count.ShouldBe(5);
        await Eventually.TrueAsync(() => cluster.Server!.HasOpenWatch($"/namespaces/{ns}/buildruns"), "the informer's watch to be open");

        // Keep the informer disconnected while things change, then forget the history it would resume from.
        var server = cluster.Server!;
        server.Faults.FailNext(int.MaxValue, 500, (method, path) => method == "GET" && path.Contains("/buildruns", StringComparison.Ordinal));
        server.Faults.DropAllWatches();
        await runtime.Api.DeleteAsync(ns, "run-0", CancellationToken.None);
        await runtime.Api.DeleteAsync(ns, "run-1", CancellationToken.None);
        for (var i = 5; i < 8; i++)
        {
            await runtime.Api.CreateAsync(TestCluster.NewBuildRun(ns, $"run-{i}"), CancellationToken.None);
        }

        server.Store.Compact();
        server.Faults.FailNext(0);

        await Eventually.TrueAsync(
            () => runtime.Informer.List().Select(r => r.Metadata.Name).Order().SequenceEqual(["run-2", "run-3", "run-4", "run-5", "run-6", "run-7"]),
            "the cache to converge on the server's state");
        deleted.Order().ShouldBe(["run-0", "run-1"]);
        runtime.Metrics.WatchRestarts.WithLabels("BuildRun", "gone").Value.ShouldBeGreaterThan(0);
    }

    [Fact]
    public async Task Conflicting_status_write_is_retried_on_a_fresh_read_and_wins()
    {
        var ns = await cluster.CreateNamespaceAsync();
        var api = new ResourceApi<BuildRun>(cluster.Kube);
        await api.CreateAsync(TestCluster.NewBuildRun(ns, "firefox"), CancellationToken.None);
        var stale = (await api.GetAsync(ns, "firefox", CancellationToken.None))!;
        var other = (await api.GetAsync(ns, "firefox", CancellationToken.None))!;
        other.Status.WaitingFor = "BuildRun chromium";
        await api.ReplaceStatusAsync(other, CancellationToken.None);

        var writer = new StatusWriter<BuildRun, BuildRunSpec, BuildRunStatus>(api);
        var attempts = 0;
        var stored = await writer.UpdateAsync(stale, run =>
        {
            attempts++;
            run.Status.Phase = BuildRunPhase.Running;
        }, CancellationToken.None);

        attempts.ShouldBe(2);
        stored.Status.Phase.ShouldBe(BuildRunPhase.Running);
        stored.Status.WaitingFor.ShouldBe("BuildRun chromium");
        (await api.GetAsync(ns, "firefox", CancellationToken.None))!.Status.Phase.ShouldBe(BuildRunPhase.Running);
    }

    [Fact]
    public async Task Status_writes_and_previews_leave_the_object_they_were_given_as_it_was()
    {
        var ns = await cluster.CreateNamespaceAsync();
        var api = new ResourceApi<BuildRun>(cluster.Kube);
        var cached = await api.CreateAsync(TestCluster.NewBuildRun(ns, "firefox"), CancellationToken.None);
        var asCached = KubernetesJson.Serialize(cached);
        var writer = new StatusWriter<BuildRun, BuildRunSpec, BuildRunStatus>(api);

        var changes = writer.Changes(cached);
        changes.Add(r => r.Status.Conditions = Conditions.MarkTrue(r.Status.Conditions, ConditionTypes.Ready, "Queued", "behind chromium", 1, DateTime.UtcNow));
        changes.Add(r => r.Status.Phase = BuildRunPhase.Queued);
        var preview = changes.Preview();
        var stored = await writer.WriteAsync(changes, CancellationToken.None);
        var unchanged = await writer.UpdateAsync(cached, r => r.Status.WaitingFor = null, CancellationToken.None);

        KubernetesJson.Serialize(cached).ShouldBe(asCached);
        preview.Status.Phase.ShouldBe(BuildRunPhase.Queued);
        preview.Spec.Packages.ShouldBe(cached.Spec.Packages);
        stored.Status.Phase.ShouldBe(BuildRunPhase.Queued);
        Conditions.IsTrue(stored.Status.Conditions, ConditionTypes.Ready).ShouldBeTrue();
        unchanged.Status.ShouldNotBeSameAs(cached.Status);
    }

    [Fact]
    public async Task Status_write_that_changes_nothing_sends_no_request()
    {
        var ns = await cluster.CreateNamespaceAsync();
        var api = new ResourceApi<BuildRun>(cluster.Kube);
        var run = await api.CreateAsync(TestCluster.NewBuildRun(ns, "firefox"), CancellationToken.None);
        var writer = new StatusWriter<BuildRun, BuildRunSpec, BuildRunStatus>(api);
        run = await writer.UpdateAsync(run, r => r.Status.Phase = BuildRunPhase.Queued, CancellationToken.None);
        var version = run.Metadata.ResourceVersion;

        var again = await writer.UpdateAsync(run, r => r.Status.Phase = BuildRunPhase.Queued, CancellationToken.None);

        again.Metadata.ResourceVersion.ShouldBe(version);
    }

    [Fact]
    public async Task One_key_is_never_reconciled_concurrently_under_a_burst_of_a_thousand_events()
    {
        var ns = await cluster.CreateNamespaceAsync();
        var reconciler = new ScriptedReconciler
        {
            Behaviour = async (_, ct) =>
            {
                await Task.Delay(2, ct);
                return ReconcileResult.Done;
            },
        };
        await using var runtime = new RuntimeHarness(cluster, ns, reconciler, controllerOptions: new ControllerOptions { Workers = 16 });
        await runtime.Api.CreateAsync(TestCluster.NewBuildRun(ns, "hot"), CancellationToken.None);
        await runtime.Api.CreateAsync(TestCluster.NewBuildRun(ns, "cold"), CancellationToken.None);
        await runtime.StartAsync();

        await Parallel.ForAsync(0, 1000, new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (i, ct) =>
        {
            var patch = JsonSerializer.Serialize(new { metadata = new { annotations = new Dictionary<string, string> { ["test/counter"] = i.ToString(System.Globalization.CultureInfo.InvariantCulture) } } });
            await runtime.Api.PatchAsync(ns, "hot", new V1Patch(patch, V1Patch.PatchType.MergePatch), ct);
        });
        var final = (await runtime.Api.GetAsync(ns, "hot", CancellationToken.None))!.Metadata.ResourceVersion;

        await Eventually.TrueAsync(() => runtime.Informer.Get(new ObjectKey(ns, "hot"))?.Metadata.ResourceVersion == final, "the cache to see the last write");
        await Eventually.TrueAsync(() => runtime.Controller.Queue.Depth == 0, "the queue to drain");
        reconciler.MaxConcurrentPerKey.ShouldBe(1);
        reconciler.CallsFor("hot").ShouldBeLessThan(1000, "duplicate keys collapse in the queue");
        reconciler.CallsFor("cold").ShouldBeGreaterThan(0);
    }

    [Fact]
    public async Task Errors_are_retried_with_exponential_backoff_then_forgotten_on_success()
    {
        var ns = await cluster.CreateNamespaceAsync();
        var failuresLeft = 5;
        var reconciler = new ScriptedReconciler
        {
            Behaviour = (request, _) => Interlocked.Decrement(ref failuresLeft) >= 0
                ? throw new InvalidOperationException("builder not ready")
                : Task.FromResult(ReconcileResult.Done),
        };
        await using var runtime = new RuntimeHarness(cluster, ns, reconciler, controllerOptions: new ControllerOptions { Workers = 2, BaseBackoff = TimeSpan.FromMilliseconds(40) });
        await runtime.Api.CreateAsync(TestCluster.NewBuildRun(ns, "flaky"), CancellationToken.None);
        await runtime.StartAsync();

        await Eventually.TrueAsync(() => reconciler.CallsFor("flaky") >= 6, "five failures and one success");
        var times = reconciler.Calls.Where(c => c.Key.Name == "flaky").Select(c => c.At).Take(6).ToList();
        var gaps = times.Zip(times.Skip(1), (a, b) => (b - a).TotalMilliseconds).ToList();

        // 40, 80, 160, 320, 640 ms: each wait at least the scheduled backoff, and growing.
        for (var i = 0; i < gaps.Count; i++)
        {
            gaps[i].ShouldBeGreaterThanOrEqualTo(40 * Math.Pow(2, i) * 0.9, $"gap {i} of {string.Join(", ", gaps)}");
        }

        runtime.Controller.Queue.Failures(new ObjectKey(ns, "flaky")).ShouldBe(0);
        runtime.Metrics.Reconciles.WithLabels("BuildRun", "error").Value.ShouldBe(5);
    }

    [Fact]
    public async Task A_reconcile_of_an_object_deleted_meanwhile_ends_quietly_without_a_retry()
    {
        var ns = await cluster.CreateNamespaceAsync();
        var api = new ResourceApi<BuildRun>(cluster.Kube);
        var stale = new TaskCompletionSource<BuildRun>(TaskCreationOptions.RunContinuationsAsynchronously);
        Informer<BuildRun>? cache = null;
        var reconciler = new ScriptedReconciler
        {
            Behaviour = async (request, ct) =>
            {
                // The view the reconcile read; the object goes before its write, which the API server answers 404.
                if (await api.GetAsync(request.Namespace, request.Name, ct) is not { } run || !stale.TrySetResult(run))
                {
                    return ReconcileResult.Done; // the deletion's own event: nothing there
                }

                await Eventually.GetAsync(() => api.GetAsync(request.Namespace, request.Name, ct), r => r is null, "the run to go");
                await Eventually.TrueAsync(() => cache!.Get(request.Key) is null, "the cache to see it go");
                run.Status = new BuildRunStatus { Phase = BuildRunPhase.Queued };
                await api.ReplaceStatusAsync(run, ct);
                return ReconcileResult.Done;
            },
        };
        await using var runtime = new RuntimeHarness(cluster, ns, reconciler);
        cache = runtime.Informer;
        await api.CreateAsync(TestCluster.NewBuildRun(ns, "vanishing"), CancellationToken.None);
        await runtime.StartAsync();
        await stale.Task.WaitAsync(TimeSpan.FromSeconds(10));
        await api.DeleteAsync(ns, "vanishing", CancellationToken.None);

        await Eventually.TrueAsync(() => runtime.Metrics.Reconciles.WithLabels("BuildRun", "gone").Value == 1, "the reconcile to end as gone");
        await Task.Delay(300);
        runtime.Metrics.Reconciles.WithLabels("BuildRun", "error").Value.ShouldBe(0);
        reconciler.CallsFor("vanishing").ShouldBeLessThanOrEqualTo(2, "the deletion's event may bring one more reconcile; nothing is retried");
        runtime.Controller.Queue.Failures(new ObjectKey(ns, "vanishing")).ShouldBe(0);
    }

    [Fact]
    public async Task A_write_on_a_changed_object_counts_as_a_conflict_and_is_reconciled_again_not_as_an_error()
    {
        var ns = await cluster.CreateNamespaceAsync();
        var api = new ResourceApi<BuildRun>(cluster.Kube);
        var first = true;
        var reconciler = new ScriptedReconciler
        {
            Behaviour = async (request, ct) =>
            {
                var run = (await api.GetAsync(request.Namespace, request.Name, ct))!;
                if (first)
                {
                    // Someone else writes between this reconcile's read and its write: the API server answers 409.
                    first = false;
                    var other = (await api.GetAsync(request.Namespace, request.Name, ct))!;
                    other.Status = new BuildRunStatus { WaitingFor = "someone else" };
                    await api.ReplaceStatusAsync(other, ct);
                }

                run.Status = new BuildRunStatus { Phase = BuildRunPhase.Queued };
                await api.ReplaceStatusAsync(run, ct);
                return ReconcileResult.Done;
            },
        };
        await using var runtime = new RuntimeHarness(cluster, ns, reconciler);
        await api.CreateAsync(TestCluster.NewBuildRun(ns, "contended"), CancellationToken.None);
        await runtime.StartAsync();

        await Eventually.GetAsync(() => api.GetAsync(ns, "contended", CancellationToken.None), r => r?.Status.Phase == BuildRunPhase.Queued,
            "the reconcile after the conflict to write");
        runtime.Metrics.Reconciles.WithLabels("BuildRun", "conflict").Value.ShouldBe(1);
        runtime.Metrics.Reconciles.WithLabels("BuildRun", "error").Value.ShouldBe(0);
    }

    [Fact]
    public async Task A_404_about_the_reconciled_object_itself_counts_as_gone_and_one_about_anything_else_does_not()
    {
        // What the API server answers names what it did not find, so a write to a run deleted before the cache saw it
        // go ends the reconcile quietly, while a missing Secret or ConfigMap of the same name stays an error.
        var ns = await cluster.CreateNamespaceAsync();
        var missingRun = await Should.ThrowAsync<HttpOperationException>(() =>
            new ResourceApi<BuildRun>(cluster.Kube).ReplaceStatusAsync(TestCluster.NewBuildRun(ns, "never-made"), CancellationToken.None));
        var missingConfigMap = await Should.ThrowAsync<HttpOperationException>(() => cluster.Kube.CoreV1.ReadNamespacedConfigMapAsync("never-made", ns));
        var runs = KindInfo.Of<BuildRun>();
        var key = new ObjectKey(ns, "never-made");

        Controller<BuildRun>.NotFoundIsOf(missingRun, runs, key).ShouldBeTrue();
        Controller<BuildRun>.NotFoundIsOf(missingRun, runs, new ObjectKey(ns, "another")).ShouldBeFalse();
        Controller<BuildRun>.NotFoundIsOf(missingRun, KindInfo.Of<GentooBuilder>(), key).ShouldBeFalse();
        Controller<BuildRun>.NotFoundIsOf(missingConfigMap, runs, key).ShouldBeFalse();
        Controller<V1ConfigMap>.NotFoundIsOf(missingConfigMap, KindInfo.Of<V1ConfigMap>(), key).ShouldBeTrue();
    }

    [Fact]
    public async Task Finalizer_blocks_deletion_until_cleanup_ran()
    {
        const string finalizer = "gentoobuilder.io/test-cleanup";
        var ns = await cluster.CreateNamespaceAsync();
        var cleanupMayFinish = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var cleanedUp = false;
        var api = new ResourceApi<BuildRun>(cluster.Kube);
        var reconciler = new ScriptedReconciler();
        reconciler.Behaviour = async (request, ct) =>
        {
            var run = await api.GetAsync(request.Namespace, request.Name, ct);
            if (run is null)
            {
                return ReconcileResult.Done;
            }

            if (run.Metadata.DeletionTimestamp is null)
            {
                await Finalizers.AddAsync(api, run, finalizer, ct);
                return ReconcileResult.Done;
            }

            await cleanupMayFinish.Task.WaitAsync(ct);
            cleanedUp = true;
            await Finalizers.RemoveAsync(api, run, finalizer, ct);
            return ReconcileResult.Done;
        };
        await using var runtime = new RuntimeHarness(cluster, ns, reconciler);
        await runtime.StartAsync();
        await api.CreateAsync(TestCluster.NewBuildRun(ns, "firefox"), CancellationToken.None);
        await Eventually.GetAsync(() => api.GetAsync(ns, "firefox", CancellationToken.None), r => r is not null && Finalizers.Has(r, finalizer), "the finalizer to be added");

        await api.DeleteAsync(ns, "firefox", CancellationToken.None);
        await Task.Delay(300);

        var blocked = await api.GetAsync(ns, "firefox", CancellationToken.None);
        blocked.ShouldNotBeNull("deletion must wait for the cleanup");
        blocked.Metadata.DeletionTimestamp.ShouldNotBeNull();
        cleanedUp.ShouldBeFalse();

        cleanupMayFinish.SetResult();
        await Eventually.GetAsync(() => api.GetAsync(ns, "firefox", CancellationToken.None), r => r is null, "the BuildRun to be gone after cleanup");
        cleanedUp.ShouldBeTrue();
    }
}
