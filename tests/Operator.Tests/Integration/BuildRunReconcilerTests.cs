using Gentoo.Entities.V1Alpha1;
using Gentoo.Kubernetes.TestServer;
using Gentoo.Operator.Decisions;
using Gentoo.Operator.Desired;
using Gentoo.Operator.Hosting;
using Gentoo.Operator.Reconcilers;
using Gentoo.Runtime;
using k8s;
using k8s.Models;
using Microsoft.Extensions.Logging.Abstractions;
using Prometheus;

namespace Gentoo.Operator.Tests.Integration;

/// <summary>
/// BuildRuns driven end to end through the API: the reconciler creates attempt pods, the kubelet simulator ends them
/// the way the agent does (exit code and JSON termination report), and the run's status and queue follow.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class BuildRunReconcilerTests(TestCluster cluster)
{
    private const string KeywordReport =
        """{"step":"build","result":"needs-operator","outcome":"keyword-change-required","emergeExitCode":1,"atoms":["app-misc/nightly-0.9"],"packagesMerged":0,"binariesReused":0,"fixes":[{"file":"package.accept_keywords","line":"app-misc/nightly:0 ~amd64","temporary":false}]}""";

    private const string FetchFailureReport = """{"step":"build","result":"transient","outcome":"fetch-failure","emergeExitCode":1,"atoms":["net-misc/downloader-1.0"]}""";

    private const string SuccessReport = """{"step":"build","result":"succeeded","outcome":"success","emergeExitCode":0,"packagesMerged":3,"binariesReused":1}""";

    private readonly ResourceApi<BuildRun> runs = new(cluster.Kube);
    private readonly ResourceApi<GentooBuilder> builders = new(cluster.Kube);

    private async Task CreateReadyBuilderAsync(string ns, string name, AutounmaskPolicy? autounmask = null, KeywordScope? scope = null)
    {
        var builder = await builders.CreateAsync(new GentooBuilder
        {
            Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = ns },
            Spec = new GentooBuilderSpec { BootstrapRef = new LocalReference { Name = "stage3" }, Autounmask = autounmask, KeywordScope = scope },
        }, CancellationToken.None);
        // Its volumes, as the builder controller makes them: a pod naming a claim that does not exist is never scheduled.
        foreach (var claim in DesiredVolumes.Builder(builder, RootSource.CopyOf("stage3-bootstrap-root")))
        {
            await cluster.Kube.CoreV1.CreateNamespacedPersistentVolumeClaimAsync(claim, ns);
        }

        builder.Status = new GentooBuilderStatus
        {
            Conditions = Conditions.MarkTrue(null, ConditionTypes.Ready, "Ready", "root volume ready", builder.Metadata.Generation, DateTime.UtcNow),
        };
        await builders.ReplaceStatusAsync(builder, CancellationToken.None);
    }

    private Task<BuildRun> CreateRunAsync(string ns, string name, string builder, params string[] packages) =>
        CreateRunAsync(ns, name, builder, null, packages);

    private Task<BuildRun> CreateRunAsync(string ns, string name, string builder, FailureHandling? onFailure, params string[] packages) => runs.CreateAsync(new BuildRun
    {
        Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = ns },
        Spec = new BuildRunSpec { BuilderRef = new LocalReference { Name = builder }, Packages = packages, OnFailure = onFailure },
    }, CancellationToken.None);

    private Task<BuildRun> WaitForAsync(string ns, string name, Func<BuildRun, bool> done, string what) =>
        Eventually.GetAsync(async () => (await runs.GetAsync(ns, name, CancellationToken.None))!, done, what);

    /// <summary>
    /// A fresh namespace with a node, the operator's BuildRun controller, and a kubelet that ends attempt 1 pods with
    /// <paramref name="firstAttempt"/> and later ones with <paramref name="laterAttempts"/> (null: they keep running).
    /// </summary>
    private async Task<LifecycleSession> StartSessionAsync(PodScript? firstAttempt, PodScript? laterAttempts, bool readyBuilder = true, bool simulator = false)
    {
        Func<string, PodScript?> script = pod => pod.EndsWith("-1", StringComparison.Ordinal) ? firstAttempt : laterAttempts;
        var session = simulator
            ? await LifecycleSession.StartSimulatedAsync(cluster, script, Controllers.AddBuildRuns)
            : await LifecycleSession.StartAsync(cluster, script, Controllers.AddBuildRuns);
        if (readyBuilder)
        {
            await CreateReadyBuilderAsync(session.Namespace, "desktop");
        }

        return session;
    }

    [PodDrivingFact]
    public async Task A_run_waits_for_its_builder_then_builds_and_succeeds()
    {
        await using var session = await StartSessionAsync(new PodScript(0, SuccessReport), new PodScript(0, SuccessReport), readyBuilder: false);
        var ns = session.Namespace;
        await CreateRunAsync(ns, "firefox", "desktop", "www-client/firefox");
        var waiting = await WaitForAsync(ns, "firefox", r => r.Status.Phase == BuildRunPhase.Pending && r.Status.Conditions?.Any(c => c.Reason == Reasons.BuilderNotFound) == true,
            "the run to wait for its missing builder");
        (waiting.Metadata.Finalizers ?? []).ShouldNotContain(BuildRunReconciler.Finalizer, "a run that never claimed the volumes has nothing to do when deleted");

        await CreateReadyBuilderAsync(ns, "desktop");

        var done = await WaitForAsync(ns, "firefox", r => r.Status.Phase == BuildRunPhase.Succeeded, "the run to succeed");
        done.Status.AttemptCount.ShouldBe(1);
        done.Metadata.Finalizers.ShouldContain(BuildRunReconciler.Finalizer, "a run that built has its volumes to give back when deleted");
        Conditions.IsTrue(done.Status.Conditions, ConditionTypes.Ready).ShouldBeTrue();
        var pod = await cluster.Kube.CoreV1.ReadNamespacedPodAsync(DesiredBuildPod.PodName("firefox", 1), ns);
        pod.Metadata.OwnerReferences.Single().Uid.ShouldBe(done.Metadata.Uid);
    }

    [PodDrivingFact]
    public async Task A_stopped_run_ends_failed_as_stopped_once_its_pod_is_gone_and_gives_the_volumes_back()
    {
        await using var session = await StartSessionAsync(firstAttempt: null, laterAttempts: null); // the build runs until stopped
        var ns = session.Namespace;
        await CreateRunAsync(ns, "world", "desktop", "@world");
        await WaitForAsync(ns, "world", r => r.Status.Phase == BuildRunPhase.Running, "the build to run");

        await runs.PatchAsync(ns, "world", TestPatches.Merge(new { metadata = new { annotations = new Dictionary<string, string> { [RequestAnnotations.Stop] = "now" } } }), CancellationToken.None);

        var stopped = await WaitForAsync(ns, "world", r => r.Status.Phase == BuildRunPhase.Failed, "the run to end stopped");
        stopped.Status.Conditions!.Single(c => c.Type == ConditionTypes.Ready).Reason.ShouldBe(Reasons.Stopped);
        stopped.Status.AttemptCount.ShouldBe(1, "a stop is no failure to retry");
        (await cluster.Kube.CoreV1.ListNamespacedPodAsync(ns)).Items.Where(p => p.Metadata.DeletionTimestamp is null).ShouldBeEmpty();
        (await Eventually.GetAsync(async () => (await builders.GetAsync(ns, "desktop", CancellationToken.None))!, b => b.Status.CurrentBuildRun is null, "the volumes to be given back"))
            .Status.CurrentBuildRun.ShouldBeNull();
    }

    [PodDrivingFact]
    public async Task A_build_whose_node_is_lost_waits_naming_the_node_and_the_remedy_and_goes_on_once_a_person_forces_the_pod_away()
    {
        await using var session = await StartSessionAsync(firstAttempt: null, laterAttempts: new PodScript(0, SuccessReport));
        var ns = session.Namespace;
        await CreateRunAsync(ns, "world", "desktop", new FailureHandling { Policy = FailurePolicy.Retry, Retries = 3 }, "@world");
        await WaitForAsync(ns, "world", r => r.Status.Phase == BuildRunPhase.Running, "the build to run");

        var node = await session.Pods.LoseNodeOfAsync(DesiredBuildPod.PodName("world", 1));
        var waiting = await WaitForAsync(ns, "world", r => Conditions.Find(r.Status.Conditions, ConditionTypes.Reconciling)?.Reason == Reasons.NodeUnreachable,
            "the run to say its node cannot be heard from");
        var message = Conditions.Find(waiting.Status.Conditions, ConditionTypes.Ready)!.Message;
        message.ShouldContain($"node {node} running pod {DesiredBuildPod.PodName("world", 1)} has not been heard from since");
        message.ShouldContain("Kubelet stopped posting node status.");
        message.ShouldContain($"kubectl delete pod {DesiredBuildPod.PodName("world", 1)} --force --grace-period=0");
        waiting.Status.Phase.ShouldBe(BuildRunPhase.Running, "the pod may still be building: a second attempt now would be two builds in one tree");
        (await Eventually.GetAsync(() => cluster.Kube.CoreV1.ListNamespacedEventAsync(ns), list => list.Items.Any(e => e.Reason == Reasons.NodeUnreachable), "a NodeUnreachable event"))
            .Items.Where(e => e.Reason == Reasons.NodeUnreachable).ShouldHaveSingleItem().Type.ShouldBe("Warning");

        // Deleting the pod the ordinary way leaves it Terminating: no kubelet is there to confirm. Still one attempt.
        await cluster.Kube.CoreV1.DeleteNamespacedPodAsync(DesiredBuildPod.PodName("world", 1), ns);
        await Task.Delay(TimeSpan.FromSeconds(1));
        (await runs.GetAsync(ns, "world", CancellationToken.None))!.Status.AttemptCount.ShouldBe(1);

        await cluster.Kube.CoreV1.DeleteNamespacedPodAsync(DesiredBuildPod.PodName("world", 1), ns, new V1DeleteOptions { GracePeriodSeconds = 0 });
        var next = await WaitForAsync(ns, "world", r => r.Status.AttemptCount == 2, "the next attempt once the pod is gone");
        next.Status.Attempts![0].Outcome.ShouldBe(AttemptOutcome.Transient);

        await session.Pods.ReturnNodeAsync(node);
        var done = await WaitForAsync(ns, "world", r => r.Status.Phase.IsFinished(), "the run to end once the node is back");
        done.Status.Phase.ShouldBe(BuildRunPhase.Succeeded);
        done.Status.AttemptCount.ShouldBe(2);
    }

    [PodDrivingFact]
    public async Task A_build_whose_node_comes_back_ends_as_the_node_says_without_a_second_attempt()
    {
        await using var session = await StartSessionAsync(new PodScript(0, SuccessReport, Delay: TimeSpan.FromSeconds(5)), laterAttempts: null);
        var ns = session.Namespace;
        await CreateRunAsync(ns, "world", "desktop", new FailureHandling { Policy = FailurePolicy.Retry, Retries = 3 }, "@world");
        await WaitForAsync(ns, "world", r => r.Status.Phase == BuildRunPhase.Running, "the build to run");
        var node = await session.Pods.LoseNodeOfAsync(DesiredBuildPod.PodName("world", 1));
        await WaitForAsync(ns, "world", r => Conditions.Find(r.Status.Conditions, ConditionTypes.Reconciling)?.Reason == Reasons.NodeUnreachable,
            "the run to say its node cannot be heard from");
        await Task.Delay(TimeSpan.FromSeconds(5)); // the build ends meanwhile, unheard

        await session.Pods.ReturnNodeAsync(node);
        var done = await WaitForAsync(ns, "world", r => r.Status.Phase.IsFinished(), "the run to end once the node is back");
        done.Status.Phase.ShouldBe(BuildRunPhase.Succeeded);
        done.Status.AttemptCount.ShouldBe(1);
        Conditions.Find(done.Status.Conditions, ConditionTypes.Reconciling).ShouldBeNull();
    }

    [PodDrivingFact]
    public async Task A_waiting_run_that_holds_the_volumes_gives_them_back_so_the_run_first_in_line_goes_on()
    {
        await using var session = await StartSessionAsync(new PodScript(0, SuccessReport), new PodScript(0, SuccessReport));
        var ns = session.Namespace;
        await session.StopControllersAsync();
        // What the fault suite once left after an operator killed under a lagging cache: the later run holds the volumes
        // for its next attempt while the earlier one is first in line for its own, each waiting for the other.
        await CreateRunAsync(ns, "first", "desktop", "app-misc/first");
        await Task.Delay(TimeSpan.FromMilliseconds(1100)); // creation timestamps are whole seconds
        await CreateRunAsync(ns, "second", "desktop", "app-misc/second");
        foreach (var name in new[] { "first", "second" })
        {
            var queued = (await runs.GetAsync(ns, name, CancellationToken.None))!;
            queued.Status = new BuildRunStatus { Phase = BuildRunPhase.Queued, AttemptCount = 1 };
            await runs.ReplaceStatusAsync(queued, CancellationToken.None);
        }

        var builder = (await builders.GetAsync(ns, "desktop", CancellationToken.None))!;
        builder.Status.CurrentBuildRun = "second";
        await builders.ReplaceStatusAsync(builder, CancellationToken.None);

        await session.StartControllersAsync();

        (await WaitForAsync(ns, "first", r => r.Status.Phase == BuildRunPhase.Succeeded, "the run first in line to go on")).Status.AttemptCount.ShouldBe(2);
        (await WaitForAsync(ns, "second", r => r.Status.Phase == BuildRunPhase.Succeeded, "the other run after it")).Status.AttemptCount.ShouldBe(2);
    }

    [PodDrivingFact]
    public Task A_run_started_on_a_view_that_missed_an_older_runs_attempt_is_judged_before_the_older_one_goes_on() =>
        NewerRunStartedOnALaggingViewAsync(queuedWhileBuilding: false);

    [PodDrivingFact]
    public Task A_run_shown_queued_while_its_pod_builds_is_judged_not_given_a_second_pod() =>
        NewerRunStartedOnALaggingViewAsync(queuedWhileBuilding: true);

    private async Task NewerRunStartedOnALaggingViewAsync(bool queuedWhileBuilding)
    {
        await using var session = await StartSessionAsync(new PodScript(0, SuccessReport), new PodScript(0, SuccessReport, Delay: TimeSpan.FromSeconds(4)));
        var ns = session.Namespace;
        await session.StopControllersAsync();
        await CreateRunAsync(ns, "first", "desktop", "app-misc/first");
        await Task.Delay(TimeSpan.FromMilliseconds(1100)); // creation timestamps are whole seconds
        await CreateRunAsync(ns, "second", "desktop", "app-misc/second");
        var decided = (await runs.GetAsync(ns, "second", CancellationToken.None))!;
        decided.Status = new BuildRunStatus { Phase = BuildRunPhase.Queued, AttemptCount = 1 };
        await runs.ReplaceStatusAsync(decided, CancellationToken.None);
        await session.StartControllersAsync();
        await WaitForAsync(ns, "second", r => r.Status is { Phase: BuildRunPhase.Running, AttemptCount: 2 }, "the newer run's attempt to run");

        // Now the older run's attempt shows, as a cache that lagged behind it would have shown it all along; and, as an
        // earlier version of this reconciler wrote, the newer run's status may say Queued while its pod builds.
        await session.StopControllersAsync();
        var older = (await runs.GetAsync(ns, "first", CancellationToken.None))!;
        older.Status = new BuildRunStatus { Phase = BuildRunPhase.Queued, AttemptCount = 1 };
        await runs.ReplaceStatusAsync(older, CancellationToken.None);
        if (queuedWhileBuilding)
        {
            var building = (await runs.GetAsync(ns, "second", CancellationToken.None))!;
            building.Status.Phase = BuildRunPhase.Queued;
            await runs.ReplaceStatusAsync(building, CancellationToken.None);
        }

        await session.StartControllersAsync();

        var second = await WaitForAsync(ns, "second", r => r.Status.Phase.IsFinished(), "the newer run's pod to be judged");
        second.Status.Phase.ShouldBe(BuildRunPhase.Succeeded);
        second.Status.AttemptCount.ShouldBe(2, $"the attempt whose pod ran is the one judged, not followed by another: {string.Join(", ", second.Status.Attempts!.Select(a => $"{a.Number} {a.Outcome} {a.FailureClass} {a.StartTime:HH:mm:ss.fff}-{a.EndTime:HH:mm:ss.fff}"))}");
        (await WaitForAsync(ns, "first", r => r.Status.Phase == BuildRunPhase.Succeeded, "the older run after it")).Status.AttemptCount.ShouldBe(2);
        (await cluster.Kube.CoreV1.ListNamespacedPodAsync(ns)).Items.Select(p => p.Name()).Order()
            .ShouldBe([DesiredBuildPod.PodName("first", 2), DesiredBuildPod.PodName("second", 2)]);
    }

    [PodDrivingFact]
    public async Task A_run_that_needs_a_person_waits_and_a_resume_starts_the_next_attempt()
    {
        await using var session = await StartSessionAsync(new PodScript(10, KeywordReport), new PodScript(0, SuccessReport));
        var ns = session.Namespace;
        await CreateRunAsync(ns, "nightly", "desktop", "app-misc/nightly");
        var awaiting = await WaitForAsync(ns, "nightly", r => r.Status.Phase == BuildRunPhase.AwaitingOperator, "the run to wait for a person");
        awaiting.Status.Conditions!.Single(c => c.Type == ConditionTypes.Ready).Reason.ShouldBe("KeywordChangeRequired");
        awaiting.Status.AttemptCount.ShouldBe(1);

        // Nothing happens until a person answers: no second pod.
        await Task.Delay(300);
        (await cluster.Kube.CoreV1.ListNamespacedPodAsync(ns)).Items.Count.ShouldBe(1);

        await Requests.AnnotateAsync(runs, ns, "nightly", new Dictionary<string, string> { [RequestAnnotations.Resume] = "2026-11-25T03:00:00Z" });

        var done = await WaitForAsync(ns, "nightly", r => r.Status.Phase == BuildRunPhase.Succeeded, "the resumed run to succeed");
        done.Status.AttemptCount.ShouldBe(2);
        done.Status.LastHandledResume.ShouldBe("2026-11-25T03:00:00Z");
    }

    private async Task<V1ConfigMap> FixesAsync(string ns) =>
        await cluster.Kube.CoreV1.ReadNamespacedConfigMapAsync(DesiredBuilderPods.FixesConfigMapName("desktop"), ns);

    [PodDrivingFact]
    public async Task Resuming_with_accepted_fixes_writes_them_as_managed_configuration_for_the_next_attempt()
    {
        await using var session = await StartSessionAsync(new PodScript(10, KeywordReport), new PodScript(0, SuccessReport));
        var ns = session.Namespace;
        await CreateRunAsync(ns, "nightly", "desktop", "app-misc/nightly");
        var awaiting = await WaitForAsync(ns, "nightly", r => r.Status.Phase == BuildRunPhase.AwaitingOperator, "the run to wait for a person");
        awaiting.Status.ProposedFixes.ShouldHaveSingleItem().Number.ShouldBe(1);

        await Requests.AnnotateAsync(runs, ns, "nightly", new Dictionary<string, string> { [RequestAnnotations.Resume] = "first", [RequestAnnotations.AcceptFixes] = "7" });
        var refused = await WaitForAsync(ns, "nightly", r => r.Status.Conditions?.Any(c => c.Reason == Reasons.InvalidSpec) == true, "the bad fix number to be refused");
        Conditions.Find(refused.Status.Conditions, ConditionTypes.AwaitingOperator)!.Message.ShouldBe(
            "annotation gentoobuilder.io/accept-fixes: '7' is not a proposed fix number (proposed: 1); use numbers separated by commas, or all");
        refused.Status.AttemptCount.ShouldBe(1);

        await Requests.AnnotateAsync(runs, ns, "nightly", new Dictionary<string, string> { [RequestAnnotations.Resume] = "second", [RequestAnnotations.AcceptFixes] = "1" });
        var done = await WaitForAsync(ns, "nightly", r => r.Status.Phase == BuildRunPhase.Succeeded, "the resumed run to succeed");
        done.Status.AppliedFixes.ShouldBe(["package.accept_keywords: app-misc/nightly:0 ~amd64"]);
        (await FixesAsync(ns)).Data["package.accept_keywords.fixes"].ShouldBe("app-misc/nightly:0 ~amd64\n");
    }

    [PodDrivingFact]
    public async Task With_autounmask_the_keyword_change_is_written_at_the_builders_scope_and_the_build_goes_on()
    {
        await using var session = await StartSessionAsync(new PodScript(10, KeywordReport), new PodScript(0, SuccessReport), readyBuilder: false);
        var ns = session.Namespace;
        await CreateReadyBuilderAsync(ns, "desktop", AutounmaskPolicy.Keywords, KeywordScope.Package);
        await CreateRunAsync(ns, "nightly", "desktop", "app-misc/nightly");

        var done = await WaitForAsync(ns, "nightly", r => r.Status.Phase is BuildRunPhase.Succeeded or BuildRunPhase.AwaitingOperator, "the run to go on by itself");
        done.Status.Phase.ShouldBe(BuildRunPhase.Succeeded);
        done.Status.AttemptCount.ShouldBe(2);
        done.Status.AppliedFixes.ShouldBe(["package.accept_keywords: app-misc/nightly ~amd64"]);
        (await FixesAsync(ns)).Data["package.accept_keywords.fixes"].ShouldBe("app-misc/nightly ~amd64\n");
    }

    [PodDrivingFact]
    public async Task A_reconcile_writes_a_runs_status_at_most_once_on_every_path_from_waiting_to_autounmask_to_success()
    {
        var counter = new StatusWriteCounter();
        using var operatorKube = new k8s.Kubernetes(cluster.Configuration, counter);
        Func<string, PodScript?> script = pod => pod.EndsWith("-1", StringComparison.Ordinal) ? new PodScript(10, KeywordReport) : new PodScript(0, SuccessReport);
        await using var session = await LifecycleSession.StartAsync(cluster, script, operatorKube, Controllers.AddBuildRuns);
        var ns = session.Namespace;
        // Waiting for a builder that is not there yet, queueing behind each other, then each through a keyword failure
        // that autounmask answers (judge and next attempt in one reconcile) to success.
        await CreateRunAsync(ns, "nightly", "desktop", "app-misc/nightly");
        await CreateRunAsync(ns, "second", "desktop", "app-misc/nightly");
        await WaitForAsync(ns, "second", r => Conditions.Find(r.Status.Conditions, ConditionTypes.Ready)?.Reason == Reasons.BuilderNotFound, "the runs to wait for the builder");
        await CreateReadyBuilderAsync(ns, "desktop", AutounmaskPolicy.Keywords, KeywordScope.Package);

        foreach (var name in new[] { "nightly", "second" })
        {
            var done = await WaitForAsync(ns, name, r => r.Status.Phase is BuildRunPhase.Succeeded or BuildRunPhase.AwaitingOperator, $"{name} to go on by itself");
            done.Status.Phase.ShouldBe(BuildRunPhase.Succeeded);
            done.Status.AttemptCount.ShouldBe(2);
        }

        var writes = counter.Of("buildruns");
        writes.Keys.Select(w => w.Reconcile).ShouldNotContain("(outside a reconcile)");
        writes.Count.ShouldBeGreaterThanOrEqualTo(8, "waiting, queued, two starts and two verdicts per run at least");
        writes.Where(w => w.Value > 1).ShouldBeEmpty("a reconcile writes a run's status at most once");
    }

    [TestServerFact]
    public async Task Without_a_node_new_enough_for_the_required_kernel_the_run_says_so_instead_of_pending_silently()
    {
        await using var session = await StartSessionAsync(new PodScript(0, SuccessReport), new PodScript(0, SuccessReport), simulator: true);
        var ns = session.Namespace;
        var run = TestCluster.NewBuildRun(ns, "future");
        run.Spec.BuilderRef.Name = "desktop";
        run.Spec.MinKernel = "99.0";
        await runs.CreateAsync(run, CancellationToken.None);

        var pending = await WaitForAsync(ns, "future", r => Conditions.Find(r.Status.Conditions, ConditionTypes.Ready)?.Reason == Reasons.NoNodeWithRequiredKernel,
            "the run to say no node has the kernel");
        pending.Status.Phase.ShouldBe(BuildRunPhase.Pending);
        pending.Status.RequiredKernel!.Version.ShouldBe("99.0.0");
        Conditions.Find(pending.Status.Conditions, ConditionTypes.Ready)!.Message.ShouldContain("affinity");
    }

    [TestServerFact]
    public async Task A_running_build_shows_the_agents_latest_progress_in_status()
    {
        await using var session = await StartSessionAsync(null, null, simulator: true);
        var ns = session.Namespace;
        await CreateRunAsync(ns, "plasma", "desktop", "kde-plasma/plasma-meta");
        await Eventually.GetAsync(() => cluster.Kube.CoreV1.ListNamespacedPodAsync(ns),
            pods => pods.Items.Any(p => p.Name() == DesiredBuildPod.PodName("plasma", 1) && p.Status?.Phase == "Running"), "the build pod to run");

        cluster.Server!.AppendPodLog(ns, DesiredBuildPod.PodName("plasma", 1), string.Join('\n',
            ">>> Emerging (1 of 3) media-libs/freetype-2.13.2::gentoo",
            ProgressLines.Prefix + """{"package":"media-libs/freetype-2.13.2","phase":"compile","done":0,"total":3}""",
            ">>> Emerging (2 of 3) media-libs/harfbuzz-8.3.0::gentoo",
            ProgressLines.Prefix + """{"package":"media-libs/harfbuzz-8.3.0","phase":"configure","done":1,"total":3}""",
            "checking for gcc... gcc") + "\n");

        var running = await WaitForAsync(ns, "plasma", r => r.Status.Progress?.Done == 1, "the run to show the newest progress");
        running.Status.Progress!.CurrentPackage.ShouldBe("media-libs/harfbuzz-8.3.0");
        running.Status.Progress.Phase.ShouldBe("configure");
        running.Status.Progress.Total.ShouldBe(3);
    }

    [PodDrivingFact]
    public async Task A_transient_failure_is_retried_after_a_backoff_under_policy_retry()
    {
        await using var session = await StartSessionAsync(new PodScript(20, FetchFailureReport), new PodScript(0, SuccessReport));
        var ns = session.Namespace;
        await CreateRunAsync(ns, "downloader", "desktop", new FailureHandling { Policy = FailurePolicy.Retry, Retries = 2 }, "net-misc/downloader");

        var done = await WaitForAsync(ns, "downloader", r => r.Status.Phase is BuildRunPhase.Succeeded or BuildRunPhase.AwaitingOperator or BuildRunPhase.Failed, "the retried run to end");
        done.Status.Phase.ShouldBe(BuildRunPhase.Succeeded, k8s.KubernetesJson.Serialize(done.Status));
        done.Status.AttemptCount.ShouldBe(2);
        done.Status.Attempts!.First().Outcome.ShouldBe(AttemptOutcome.Transient);
        done.Status.Attempts![1].Outcome.ShouldBe(AttemptOutcome.Succeeded);
    }

    [PodDrivingFact]
    public async Task An_attempt_that_runs_past_spec_timeout_is_stopped_reported_as_timeout_and_handled_by_on_failure()
    {
        // The build never ends by itself: only the deadline stops it.
        await using var session = await StartSessionAsync(null, null);
        var ns = session.Namespace;
        await runs.CreateAsync(new BuildRun
        {
            Metadata = new V1ObjectMeta { Name = "slowpoke", NamespaceProperty = ns },
            Spec = new BuildRunSpec { BuilderRef = new LocalReference { Name = "desktop" }, Packages = ["app-misc/slowpoke"], Timeout = "1s" },
        }, CancellationToken.None);

        var stopped = await WaitForAsync(ns, "slowpoke", r => r.Status.Phase is BuildRunPhase.AwaitingOperator or BuildRunPhase.Succeeded or BuildRunPhase.Failed, "the attempt to hit its deadline");

        stopped.Status.Phase.ShouldBe(BuildRunPhase.AwaitingOperator, "onFailure defaults to AwaitOperator");
        var ready = Conditions.Find(stopped.Status.Conditions, ConditionTypes.Ready)!;
        ready.Reason.ShouldBe(Reasons.Timeout);
        ready.Message.ShouldContain("spec.timeout");
        Conditions.Find(stopped.Status.Conditions, ConditionTypes.AwaitingOperator)!.Reason.ShouldBe(Reasons.Timeout);
        stopped.Status.Attempts!.Single().Outcome.ShouldBe(AttemptOutcome.Transient);
        var pod = await cluster.Kube.CoreV1.ReadNamespacedPodAsync(DesiredBuildPod.PodName("slowpoke", 1), ns);
        pod.Spec.ActiveDeadlineSeconds.ShouldBe(1);
        pod.Status.Reason.ShouldBe("DeadlineExceeded");
    }

    [PodDrivingFact]
    public async Task Runs_on_one_builder_take_turns_and_deleting_a_run_stops_its_pod()
    {
        await using var session = await StartSessionAsync(null, null);
        var ns = session.Namespace;
        await CreateRunAsync(ns, "first", "desktop", "www-client/firefox");
        await WaitForAsync(ns, "first", r => r.Status.AttemptCount == 1, "the first run to start");
        await CreateRunAsync(ns, "second", "desktop", "kde-plasma/plasma-meta");
        var queued = await WaitForAsync(ns, "second", r => r.Status.Phase == BuildRunPhase.Queued, "the second run to queue");
        queued.Status.WaitingFor.ShouldBe("queued: GentooBuilder desktop builds one BuildRun at a time, oldest first");
        (await builders.GetAsync(ns, "desktop", CancellationToken.None))!.Status.CurrentBuildRun.ShouldBe("first", "the builder names the run ahead");

        // The running pod keeps running (no script): deleting the run stops it gracefully, then frees the builder.
        await runs.DeleteAsync(ns, "first", CancellationToken.None);
        await Eventually.GetAsync(async () => await runs.GetAsync(ns, "first", CancellationToken.None), r => r is null, "the deleted run to go once its pod stopped");

        (await cluster.Kube.CoreV1.ListNamespacedPodAsync(ns)).Items.ShouldNotContain(p => p.Name() == DesiredBuildPod.PodName("first", 1),
            "the deleted run's build pod is stopped, not left running");
        var started = await WaitForAsync(ns, "second", r => r.Status.AttemptCount == 1, "the second run to start once the builder is free");
        started.Status.WaitingFor.ShouldBeNull();
    }

    [TestServerFact]
    public async Task A_deleted_run_stays_until_its_build_pod_has_stopped()
    {
        await using var session = await StartSessionAsync(null, null, simulator: true);
        var ns = session.Namespace;
        var kubelet = cluster.Server!.Kubelet;
        kubelet.StopDelay = TimeSpan.FromSeconds(1);
        try
        {
            await CreateRunAsync(ns, "firefox", "desktop", "www-client/firefox");
            await Eventually.GetAsync(() => cluster.Kube.CoreV1.ListNamespacedPodAsync(ns),
                pods => pods.Items.Any(p => p.Name() == DesiredBuildPod.PodName("firefox", 1) && p.Status?.Phase == "Running"), "the build pod to run");

            await runs.DeleteAsync(ns, "firefox", CancellationToken.None);

            // Read the run before the pod: once the run is gone, its pod must already be gone.
            var sawRunWhileStopping = false;
            await Eventually.GetAsync(async () =>
            {
                var run = await runs.GetAsync(ns, "firefox", CancellationToken.None);
                var pods = await cluster.Kube.CoreV1.ListNamespacedPodAsync(ns);
                var podLeft = pods.Items.Any(p => p.Name() == DesiredBuildPod.PodName("firefox", 1));
                if (run is null)
                {
                    podLeft.ShouldBeFalse("the run went while its build pod was still stopping");
                }
                else if (podLeft && run.Metadata.DeletionTimestamp is not null)
                {
                    sawRunWhileStopping = true;
                }

                return run;
            }, run => run is null, "the deleted run to go", TimeSpan.FromSeconds(30));
            sawRunWhileStopping.ShouldBeTrue("the run is kept, being deleted, while its pod stops");
        }
        finally
        {
            kubelet.StopDelay = TimeSpan.Zero;
        }
    }

}
