using System.Text;
using Gentoo.Entities.V1Alpha1;
using Gentoo.Kubernetes.TestServer;
using Gentoo.Operator.Decisions;
using Gentoo.Operator.Desired;
using Gentoo.Operator.Hosting;
using Gentoo.Runtime;
using Gentoo.Operator.Storage;
using Gentoo.Portage.Signing;
using k8s;
using k8s.Models;

namespace Gentoo.Operator.Tests.Integration;

/// <summary>
/// GentooBuilders end to end through the API: volumes from the bootstrap's snapshot or a copy of its root, update
/// pods on request, BuildRuns on a schedule, snapshots after successful builds; what was built survives deletion.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class GentooBuilderReconcilerTests(TestCluster cluster)
{
    private const string Success = """{"step":"build","result":"success","outcome":"success","emergeExitCode":0,"packagesMerged":1}""";

    private readonly ResourceApi<GentooBootstrap> bootstraps = new(cluster.Kube);
    private readonly ResourceApi<GentooBuilder> builders = new(cluster.Kube);
    private readonly ResourceApi<BuildRun> runs = new(cluster.Kube);
    private readonly ResourceApi<VolumeSnapshot> snapshots = new(cluster.Kube);

    private static GentooBootstrap Bootstrap(string ns) => new()
    {
        Metadata = new V1ObjectMeta { Name = "stage3", NamespaceProperty = ns },
        Spec = new GentooBootstrapSpec
        {
            Stage3 = new Stage3Source { Image = "docker.io/gentoo/stage3:amd64-openrc" },
            Profile = "default/linux/amd64/23.0",
            Portage = new PortageConfig { PackageUse = ["app-editors/vim -X"] },
        },
    };

    private static GentooBuilder Builder(string ns, Action<GentooBuilderSpec>? change = null)
    {
        var builder = new GentooBuilder
        {
            Metadata = new V1ObjectMeta { Name = "desktop", NamespaceProperty = ns },
            Spec = new GentooBuilderSpec { BootstrapRef = new LocalReference { Name = "stage3" } },
        };
        change?.Invoke(builder.Spec);
        return builder;
    }

    private async Task<GentooBuilder> WaitForAsync(string ns, Func<GentooBuilder, bool> done, string what)
    {
        try
        {
            return await Eventually.GetAsync(async () => (await builders.GetAsync(ns, "desktop", CancellationToken.None))!, done, what);
        }
        catch (TimeoutException e)
        {
            var pods = await cluster.Kube.CoreV1.ListNamespacedPodAsync(ns);
            throw new TimeoutException(e.Message + " PODS: " + string.Join(", ", pods.Items.Select(p => $"{p.Metadata.Name}: {p.Status?.Phase}")));
        }
    }

    private Task<BuildRun> CreateFirefoxRunAsync(string ns) => runs.CreateAsync(new BuildRun
    {
        Metadata = new V1ObjectMeta { Name = "firefox", NamespaceProperty = ns },
        Spec = new BuildRunSpec { BuilderRef = new LocalReference { Name = "desktop" }, Packages = ["www-client/firefox"] },
    }, CancellationToken.None);

    private Task<LifecycleSession> StartAsync() =>
        LifecycleSession.StartAsync(cluster, _ => new PodScript(0, Success), Controllers.AddBootstraps, Controllers.AddBuilders, Controllers.AddBuildRuns);

    [PodDrivingFact]
    public async Task A_builder_waits_for_its_bootstrap_then_copies_its_root_and_is_ready()
    {
        await using var session = await StartAsync();
        var ns = session.Namespace;
        await builders.CreateAsync(Builder(ns), CancellationToken.None);
        var waiting = await WaitForAsync(ns, b => Conditions.Find(b.Status.Conditions, ConditionTypes.Ready)?.Reason == Reasons.BootstrapNotFound, "the builder to name its missing bootstrap");
        Conditions.Find(waiting.Status.Conditions, ConditionTypes.Ready)!.Message.ShouldContain("spec.bootstrapRef");

        await bootstraps.CreateAsync(Bootstrap(ns), CancellationToken.None);
        var ready = await WaitForAsync(ns, b => Conditions.IsTrue(b.Status.Conditions, ConditionTypes.Ready), "the builder to be ready");

        ready.Status.Volumes!.Root.ShouldBe("desktop-root");
        var copy = await cluster.Kube.CoreV1.ReadNamespacedPodAsync(DesiredBuilderPods.CopyPodName("desktop"), ns);
        copy.Spec.Volumes.Single(v => v.Name == "source").PersistentVolumeClaim.ClaimName.ShouldBe("stage3-bootstrap-root");
        var binpkgs = await cluster.Kube.CoreV1.ReadNamespacedPersistentVolumeClaimAsync("desktop-binpkgs", ns);
        binpkgs.Metadata.OwnerReferences.ShouldBeNull();
        var config = await cluster.Kube.CoreV1.ReadNamespacedConfigMapAsync(DesiredBuilderPods.ConfigMapName("desktop"), ns);
        config.Data["package.use"].ShouldBe("app-editors/vim -X\n");
    }

    [TestServerFact]
    public async Task A_builder_from_a_bootstrap_snapshot_restores_its_root_from_it_and_a_build_runs_on_it()
    {
        await using var session = await StartAsync();
        var ns = session.Namespace;
        await SnapshotClassAsync(ns);
        var bootstrap = Bootstrap(ns);
        bootstrap.Spec.Storage = new BootstrapStorage { StorageClassName = "fast-" + ns };
        await bootstraps.CreateAsync(bootstrap, CancellationToken.None);
        var snapshotting = await Eventually.GetAsync(async () => (await bootstraps.GetAsync(ns, "stage3", CancellationToken.None))!,
            b => b.Status.Snapshot?.Method == "VolumeSnapshot", "the bootstrap to snapshot");
        await MarkReadyAsync(ns, snapshotting.Status.Snapshot!.Name!);
        await builders.CreateAsync(Builder(ns), CancellationToken.None);

        await WaitForAsync(ns, b => Conditions.IsTrue(b.Status.Conditions, ConditionTypes.Ready), "the builder to be ready");
        var root = await cluster.Kube.CoreV1.ReadNamespacedPersistentVolumeClaimAsync("desktop-root", ns);
        root.Spec.DataSource.Kind.ShouldBe("VolumeSnapshot");
        root.Spec.DataSource.Name.ShouldBe(snapshotting.Status.Snapshot.Name);
        (await cluster.Kube.CoreV1.ListNamespacedPodAsync(ns)).Items.ShouldNotContain(p => p.Name() == DesiredBuilderPods.CopyPodName("desktop"));

        await CreateFirefoxRunAsync(ns);
        await Eventually.GetAsync(async () => (await runs.GetAsync(ns, "firefox", CancellationToken.None))!, r => r.Status.Phase == BuildRunPhase.Succeeded, "the build to succeed");
        await WaitForAsync(ns, b => b.Status.LastSuccessfulBuildRun == "firefox", "the builder to record its last successful run");
    }

    private async Task SnapshotClassAsync(string ns)
    {
        await cluster.Kube.StorageV1.CreateStorageClassAsync(new V1StorageClass { Metadata = new V1ObjectMeta { Name = "fast-" + ns }, Provisioner = $"csi.{ns}.example.com" });
        await cluster.Kube.CustomObjects.CreateClusterCustomObjectAsync(
            new VolumeSnapshotClass { Metadata = new V1ObjectMeta { Name = "snap-" + ns }, Driver = $"csi.{ns}.example.com" }, VolumeSnapshot.Group, "v1", "volumesnapshotclasses");
    }

    /// <summary>The snapshot controller's part.</summary>
    private async Task MarkReadyAsync(string ns, string name)
    {
        var snapshot = await Eventually.GetAsync(() => snapshots.GetAsync(ns, name, CancellationToken.None), s => s is not null, $"snapshot {name}");
        snapshot!.Status = new VolumeSnapshotStatus { ReadyToUse = true, CreationTime = DateTime.UtcNow };
        await snapshots.ReplaceStatusAsync(snapshot, CancellationToken.None);
    }

    [PodDrivingFact]
    public async Task An_update_request_runs_an_update_pod_and_a_build_waits_for_it()
    {
        PodScript? update = null;
        await using var session = await LifecycleSession.StartAsync(cluster,
            pod => pod.Contains("-update-", StringComparison.Ordinal) ? update : new PodScript(0, Success),
            Controllers.AddBootstraps, Controllers.AddBuilders, Controllers.AddBuildRuns);
        var ns = session.Namespace;
        await bootstraps.CreateAsync(Bootstrap(ns), CancellationToken.None);
        var builder = await builders.CreateAsync(Builder(ns), CancellationToken.None);
        var ready = await WaitForAsync(ns, b => Conditions.IsTrue(b.Status.Conditions, ConditionTypes.Ready), "the builder to be ready");

        await Requests.AnnotateAsync(builders, ns, "desktop", new Dictionary<string, string> { [RequestAnnotations.Update] = "now" });
        var updating = await WaitForAsync(ns, b => b.Status.Phase == BuilderPhase.Updating, "the update to start");
        updating.Status.LastHandledUpdate.ShouldBe("now");
        var podName = updating.Status.CurrentMaintenance!;
        // The claim is written before the pod is created (so two pods never start at once): the pod follows it.
        var pod = await Eventually.GetAsync(() => CoreWrites.ReadOrNullAsync(() => cluster.Kube.CoreV1.ReadNamespacedPodAsync(podName, ns)), p => p is not null, "the update pod");
        pod!.Spec.Containers[0].Args[0].ShouldBe("update");

        await CreateFirefoxRunAsync(ns);
        var waiting = await Eventually.GetAsync(async () => (await runs.GetAsync(ns, "firefox", CancellationToken.None))!,
            r => r.Status.Conditions?.Any(c => c.Message?.Contains(podName, StringComparison.Ordinal) == true) == true, "the build to wait for the update");
        waiting.Status.AttemptCount.ShouldBeNull();

        await session.Pods.CompleteAsync(podName, 0, Success);
        var updated = await WaitForAsync(ns, b => b.Status.LastUpdateTime is not null, "the update to be recorded");
        updated.Status.CurrentMaintenance.ShouldBeNull();
        await Eventually.GetAsync(async () => (await runs.GetAsync(ns, "firefox", CancellationToken.None))!, r => r.Status.Phase == BuildRunPhase.Succeeded, "the build to run after the update");
    }

    [PodDrivingFact]
    public Task An_update_pod_whose_node_is_lost_is_reported_with_what_to_do_and_the_word_goes_when_the_node_is_back() =>
        UpdatePodOnLostNodeAsync(LifecycleSession.StartAsync(cluster, UpdatePodRuns, Controllers.AddBootstraps, Controllers.AddBuilders, Controllers.AddBuildRuns));

    /// <summary>ApiKubelet (what envtest runs) loses and returns a node as the simulator does: a kubelet back posts its pods ready again.</summary>
    [PodDrivingFact]
    public Task A_node_lost_and_back_reads_the_same_when_pods_are_played_through_the_API() =>
        UpdatePodOnLostNodeAsync(LifecycleSession.StartThroughApiAsync(cluster, UpdatePodRuns, Controllers.AddBootstraps, Controllers.AddBuilders, Controllers.AddBuildRuns));

    private static PodScript? UpdatePodRuns(string pod) => pod.Contains("-update-", StringComparison.Ordinal) ? null : new PodScript(0, Success);

    private async Task UpdatePodOnLostNodeAsync(Task<LifecycleSession> starting)
    {
        await using var session = await starting;
        var ns = session.Namespace;
        await bootstraps.CreateAsync(Bootstrap(ns), CancellationToken.None);
        await builders.CreateAsync(Builder(ns), CancellationToken.None);
        await WaitForAsync(ns, b => Conditions.IsTrue(b.Status.Conditions, ConditionTypes.Ready), "the builder to be ready");
        await Requests.AnnotateAsync(builders, ns, "desktop", new Dictionary<string, string> { [RequestAnnotations.Update] = "now" });
        var podName = (await WaitForAsync(ns, b => b.Status.CurrentMaintenance is not null, "the update to start")).Status.CurrentMaintenance!;
        await Eventually.GetAsync(() => CoreWrites.ReadOrNullAsync(() => cluster.Kube.CoreV1.ReadNamespacedPodAsync(podName, ns)), p => p?.Status?.Phase == "Running", "the update pod to run");

        var node = await session.Pods.LoseNodeOfAsync(podName);
        var lost = await WaitForAsync(ns, b => Conditions.Find(b.Status.Conditions, ConditionTypes.Reconciling)?.Reason == Reasons.NodeUnreachable, "the builder to say its update pod's node cannot be heard from");
        var message = Conditions.Find(lost.Status.Conditions, ConditionTypes.Reconciling)!.Message;
        message.ShouldStartWith($"update pod {podName}: node {node}");
        message.ShouldContain($"kubectl delete pod {podName} --force --grace-period=0");
        lost.Status.CurrentMaintenance.ShouldBe(podName, "the pod may still write the volumes: nothing else gets them");
        (await Eventually.GetAsync(() => cluster.Kube.CoreV1.ListNamespacedEventAsync(ns), list => list.Items.Any(e => e.Reason == Reasons.NodeUnreachable), "a NodeUnreachable event"))
            .Items.Where(e => e.Reason == Reasons.NodeUnreachable).ShouldHaveSingleItem().Type.ShouldBe("Warning");

        await session.Pods.ReturnNodeAsync(node);
        var back = await WaitForAsync(ns, b => Conditions.Find(b.Status.Conditions, ConditionTypes.Reconciling) is null, "the word to go once the node is back");
        back.Status.CurrentMaintenance.ShouldBe(podName, "the update goes on");
    }

    [PodDrivingFact]
    public async Task A_reconcile_writes_each_kinds_status_at_most_once_from_bootstrap_to_update_and_build()
    {
        var counter = new StatusWriteCounter();
        using var operatorKube = new k8s.Kubernetes(cluster.Configuration, counter);
        await using var session = await LifecycleSession.StartAsync(cluster, _ => new PodScript(0, Success), operatorKube,
            Controllers.AddBootstraps, Controllers.AddBuilders, Controllers.AddBuildRuns);
        var ns = session.Namespace;
        // A builder waiting for its bootstrap, the bootstrap's steps and snapshot, the builder's copy of the root, an update
        // pod claiming the volumes, a build waiting for it and then running.
        await builders.CreateAsync(Builder(ns), CancellationToken.None);
        await WaitForAsync(ns, b => Conditions.Find(b.Status.Conditions, ConditionTypes.Ready)?.Reason == Reasons.BootstrapNotFound, "the builder to wait for its bootstrap");
        await bootstraps.CreateAsync(Bootstrap(ns), CancellationToken.None);
        await WaitForAsync(ns, b => Conditions.IsTrue(b.Status.Conditions, ConditionTypes.Ready), "the builder to be ready");
        await Requests.AnnotateAsync(builders, ns, "desktop", new Dictionary<string, string> { [RequestAnnotations.Update] = "now" });
        await CreateFirefoxRunAsync(ns);
        await Eventually.GetAsync(async () => (await runs.GetAsync(ns, "firefox", CancellationToken.None))!, r => r.Status.Phase == BuildRunPhase.Succeeded, "the build to succeed");
        await WaitForAsync(ns, b => b.Status.LastUpdateTime is not null && b.Status.CurrentBuildRun is null, "the update recorded and the volumes free");

        foreach (var resource in new[] { "gentoobootstraps", "gentoobuilders", "buildruns" })
        {
            var writes = counter.Of(resource);
            writes.ShouldNotBeEmpty(resource);
            writes.Keys.Select(w => w.Reconcile).ShouldNotContain("(outside a reconcile)");
            writes.Where(w => w.Value > 1).ShouldBeEmpty($"a reconcile writes a {resource} status at most once");
        }
    }

    [PodDrivingFact]
    public async Task A_shell_waits_for_a_build_pod_but_not_for_a_run_awaiting_a_person_and_the_resumed_run_waits_for_the_shell()
    {
        const string Keyword = """{"step":"build","result":"needs-operator","outcome":"keyword-change-required","emergeExitCode":1,"atoms":["app-misc/nightly-0.9"],"fixes":[{"file":"package.accept_keywords","line":"app-misc/nightly:0 ~amd64","temporary":false}]}""";
        await using var session = await LifecycleSession.StartAsync(cluster,
            pod => pod == "firefox-1" || pod.Contains("-shell-", StringComparison.Ordinal) ? null : new PodScript(0, Success),
            Controllers.AddBootstraps, Controllers.AddBuilders, Controllers.AddBuildRuns);
        var ns = session.Namespace;
        await bootstraps.CreateAsync(Bootstrap(ns), CancellationToken.None);
        await builders.CreateAsync(Builder(ns), CancellationToken.None);
        await WaitForAsync(ns, b => Conditions.IsTrue(b.Status.Conditions, ConditionTypes.Ready), "the builder to be ready");
        await CreateFirefoxRunAsync(ns);
        await Eventually.GetAsync(async () => (await cluster.Kube.CoreV1.ListNamespacedPodAsync(ns)).Items.FirstOrDefault(p => p.Metadata.Name == "firefox-1"),
            p => p?.Status?.Phase == "Running", "the build pod to run");
        (await builders.GetAsync(ns, "desktop", CancellationToken.None))!.Status.CurrentBuildRun.ShouldBe("firefox", "the run claimed the volumes before its pod started");

        await Requests.AnnotateAsync(builders, ns, "desktop", new Dictionary<string, string> { [RequestAnnotations.Shell] = "look" });
        await Task.Delay(1000);
        var meanwhile = (await builders.GetAsync(ns, "desktop", CancellationToken.None))!;
        meanwhile.Status.CurrentMaintenance.ShouldBeNull("no shell beside a running build");
        (await cluster.Kube.CoreV1.ListNamespacedPodAsync(ns)).Items.ShouldNotContain(p => p.Metadata.Name.Contains("-shell-", StringComparison.Ordinal));

        await session.Pods.CompleteAsync("firefox-1", 10, Keyword);
        await Eventually.GetAsync(async () => (await runs.GetAsync(ns, "firefox", CancellationToken.None))!, r => r.Status.Phase == BuildRunPhase.AwaitingOperator, "the run to wait for a person");
        var shell = await WaitForAsync(ns, b => b.Status.Phase == BuilderPhase.Shell, "the shell to start while the run awaits a person");
        shell.Status.CurrentBuildRun.ShouldBeNull();
        var shellPod = shell.Status.CurrentMaintenance!;

        await Requests.AnnotateAsync(runs, ns, "firefox", new Dictionary<string, string> { [RequestAnnotations.Resume] = "fixed" });
        var queued = await Eventually.GetAsync(async () => (await runs.GetAsync(ns, "firefox", CancellationToken.None))!, r => r.Status.Phase == BuildRunPhase.Queued, "the resumed run to wait for the shell");
        queued.Status.WaitingFor.ShouldBe($"maintenance pod {shellPod} is using GentooBuilder desktop's volumes");
        Conditions.Find(queued.Status.Conditions, ConditionTypes.AwaitingOperator).ShouldBeNull("the person has answered");
        (await cluster.Kube.CoreV1.ListNamespacedPodAsync(ns)).Items.ShouldNotContain(p => p.Metadata.Name == "firefox-2");

        await session.Pods.CompleteAsync(shellPod, 0, Success);
        var done = await Eventually.GetAsync(async () => (await runs.GetAsync(ns, "firefox", CancellationToken.None))!, r => r.Status.Phase == BuildRunPhase.Succeeded, "the run to build on after the shell");
        done.Status.AttemptCount.ShouldBe(2);
        done.Status.LastHandledResume.ShouldBe("fixed");
        await WaitForAsync(ns, b => b.Status.CurrentBuildRun is null && b.Status.Phase == BuilderPhase.Ready, "the volumes to be free again");
    }

    [PodDrivingFact]
    public async Task An_operator_restart_during_the_root_copy_and_during_a_build_starts_nothing_twice()
    {
        PodScript? copy = null;
        PodScript? build = null;
        await using var session = await LifecycleSession.StartAsync(cluster,
            pod => pod.EndsWith("-copy-root", StringComparison.Ordinal) ? copy : pod == DesiredBuildPod.PodName("firefox", 1) ? build : new PodScript(0, Success),
            Controllers.AddBootstraps, Controllers.AddBuilders, Controllers.AddBuildRuns);
        var ns = session.Namespace;
        await bootstraps.CreateAsync(Bootstrap(ns), CancellationToken.None);
        await builders.CreateAsync(Builder(ns), CancellationToken.None);
        await WaitForAsync(ns, b => Conditions.Find(b.Status.Conditions, ConditionTypes.Ready)?.Reason == "CopyingRoot", "the root copy to start");
        await RunningAsync(ns, DesiredBuilderPods.CopyPodName("desktop"));

        await session.StopControllersAsync();
        await session.StartControllersAsync();
        await session.Pods.CompleteAsync(DesiredBuilderPods.CopyPodName("desktop"), 0, null);
        await WaitForAsync(ns, b => Conditions.IsTrue(b.Status.Conditions, ConditionTypes.Ready), "the builder to be ready after the restart");

        await CreateFirefoxRunAsync(ns);
        await RunningAsync(ns, DesiredBuildPod.PodName("firefox", 1));
        await session.StopControllersAsync();
        await session.StartControllersAsync();
        await session.Pods.CompleteAsync(DesiredBuildPod.PodName("firefox", 1), 0, Success);

        var done = await Eventually.GetAsync(async () => (await runs.GetAsync(ns, "firefox", CancellationToken.None))!, r => r.Status.Phase == BuildRunPhase.Succeeded, "the build to succeed after the restart");
        done.Status.AttemptCount.ShouldBe(1);
        var pods = (await cluster.Kube.CoreV1.ListNamespacedPodAsync(ns)).Items.Select(p => p.Name()).Order().ToList();
        pods.ShouldBe(new[] { "stage3-bootstrap-1", DesiredBuilderPods.CopyPodName("desktop"), DesiredBuildPod.PodName("firefox", 1) }.Order().ToList());
    }

    private Task RunningAsync(string ns, string pod) =>
        Eventually.GetAsync(async () => (await cluster.Kube.CoreV1.ListNamespacedPodAsync(ns)).Items, pods => pods.Any(p => p.Name() == pod && p.Status?.Phase == "Running"), $"pod {pod} to run");

    [PodDrivingFact]
    public async Task A_due_schedule_creates_one_build_run_and_prunes_finished_ones_beyond_the_history_limit()
    {
        await using var session = await LifecycleSession.StartAsync(cluster, _ => new PodScript(0, Success), Controllers.AddBootstraps, Controllers.AddBuilders);
        var ns = session.Namespace;
        for (var i = 0; i < 3; i++)
        {
            var old = await runs.CreateAsync(new BuildRun
            {
                Metadata = new V1ObjectMeta
                {
                    Name = $"desktop-old-{i}",
                    NamespaceProperty = ns,
                    Labels = new Dictionary<string, string> { [AutoBuilds.ScheduledByLabel] = "desktop" },
                },
                Spec = new BuildRunSpec { BuilderRef = new LocalReference { Name = "desktop" } },
            }, CancellationToken.None);
            old.Status = new BuildRunStatus { Phase = BuildRunPhase.Succeeded };
            await runs.ReplaceStatusAsync(old, CancellationToken.None);
            await Task.Delay(1100); // distinct creation times (seconds)
        }

        var mine = await runs.CreateAsync(new BuildRun
        {
            Metadata = new V1ObjectMeta { Name = "by-hand", NamespaceProperty = ns },
            Spec = new BuildRunSpec { BuilderRef = new LocalReference { Name = "desktop" } },
        }, CancellationToken.None);
        mine.Status = new BuildRunStatus { Phase = BuildRunPhase.Succeeded };
        await runs.ReplaceStatusAsync(mine, CancellationToken.None);

        await bootstraps.CreateAsync(Bootstrap(ns), CancellationToken.None);
        var builder = await builders.CreateAsync(Builder(ns, s => s.AutoBuild = new AutoBuild
        {
            Schedule = "* * * * *",
            Packages = ["@world"],
            SuccessfulRunsHistoryLimit = 1,
        }), CancellationToken.None);
        // As if the builder had last scheduled two minutes ago: the occurrence of the last minute is due now.
        await new StatusWriter<GentooBuilder, GentooBuilderSpec, GentooBuilderStatus>(builders).UpdateAsync(builder, b => b.Status.LastScheduleTime = DateTime.UtcNow.AddMinutes(-2), CancellationToken.None);

        var scheduled = await WaitForAsync(ns, b => b.Status.LastScheduleTime > DateTime.UtcNow.AddMinutes(-1.5), "the schedule to fire");
        var name = AutoBuilds.RunName("desktop", scheduled.Status.LastScheduleTime!.Value);
        var run = (await runs.GetAsync(ns, name, CancellationToken.None)).ShouldNotBeNull();
        run.Spec.Sync.ShouldBe(true);
        run.Metadata.OwnerReferences.Single().Uid.ShouldBe(builder.Metadata.Uid);

        var left = await Eventually.GetAsync(async () => (await runs.ListAsync(ns, CancellationToken.None)).Items.Select(r => r.Name()).Order().ToList(),
            names => !names.Contains("desktop-old-0") && !names.Contains("desktop-old-1"), "the oldest scheduled runs to be pruned");
        left.ShouldBe(new[] { "by-hand", "desktop-old-2", name }.Order().ToList(), "runs a person made are never pruned");
    }

    [TestServerFact]
    public async Task A_builder_restored_from_a_snapshot_waits_for_it_then_uses_it_as_its_root()
    {
        await using var session = await StartAsync();
        var ns = session.Namespace;
        await builders.CreateAsync(new GentooBuilder
        {
            Metadata = new V1ObjectMeta { Name = "desktop", NamespaceProperty = ns },
            Spec = new GentooBuilderSpec { RestoreFrom = new SnapshotReference { Name = "backup" } },
        }, CancellationToken.None);
        var waiting = await WaitForAsync(ns, b => Conditions.Find(b.Status.Conditions, ConditionTypes.Ready)?.Reason == Reasons.SnapshotNotReady, "the builder to wait for its snapshot");
        Conditions.Find(waiting.Status.Conditions, ConditionTypes.Ready)!.Message.ShouldContain("spec.restoreFrom");

        await snapshots.CreateAsync(new VolumeSnapshot
        {
            Metadata = new V1ObjectMeta { Name = "backup", NamespaceProperty = ns },
            Spec = new VolumeSnapshotSpec { Source = new VolumeSnapshotSource { PersistentVolumeClaimName = "old-root" } },
        }, CancellationToken.None);
        await MarkReadyAsync(ns, "backup");

        await WaitForAsync(ns, b => Conditions.IsTrue(b.Status.Conditions, ConditionTypes.Ready), "the builder to be ready");
        var root = await cluster.Kube.CoreV1.ReadNamespacedPersistentVolumeClaimAsync("desktop-root", ns);
        root.Spec.DataSource.Name.ShouldBe("backup");
    }

    [PodDrivingFact]
    public async Task A_configuration_change_and_the_sync_interval_run_update_and_sync_pods()
    {
        await using var session = await StartAsync();
        var ns = session.Namespace;
        await bootstraps.CreateAsync(Bootstrap(ns), CancellationToken.None);
        await builders.CreateAsync(Builder(ns), CancellationToken.None);
        var ready = await WaitForAsync(ns, b => Conditions.IsTrue(b.Status.Conditions, ConditionTypes.Ready), "the builder to be ready");
        ready.Status.LastUpdateTime.ShouldBeNull("the bootstrap's own configuration needs no update");

        await bootstraps.PatchAsync(ns, "stage3", TestPatches.Merge(new { spec = new { portage = new { packageUse = new[] { "app-editors/vim -X", "media-libs/mesa vulkan" } } } }),
            CancellationToken.None);
        var updated = await WaitForAsync(ns, b => b.Status.LastUpdateTime is not null, "the configuration change to run an update");
        updated.Status.LastUpdateResult.ShouldNotBeNull();
        var config = await cluster.Kube.CoreV1.ReadNamespacedConfigMapAsync(DesiredBuilderPods.ConfigMapName("desktop"), ns);
        config.Data["package.use"].ShouldContain("media-libs/mesa vulkan");

        await builders.PatchAsync(ns, "desktop", TestPatches.Merge(new { spec = new { sync = new { interval = "1s" } } }), CancellationToken.None);
        var synced = await WaitForAsync(ns, b => b.Status.LastSyncTime > updated.Status.LastUpdateTime && b.Status.CurrentMaintenance is null, "the sync interval to run a sync");
        // A sync pod ran and ended (with a 1s interval the next one may already have replaced it, so its Event says so).
        await Eventually.GetAsync(() => cluster.Kube.CoreV1.ListNamespacedEventAsync(ns),
            events => events.Items.Any(e => e.Reason == "Synced" && e.InvolvedObject.Name == "desktop"), "the sync pod's end to be recorded");
        synced.Status.Phase.ShouldBe(BuilderPhase.Ready);
    }

    [PodDrivingFact]
    public async Task A_due_schedule_while_a_run_is_open_is_skipped_not_overlapped()
    {
        await using var session = await LifecycleSession.StartAsync(cluster, _ => new PodScript(0, Success), Controllers.AddBootstraps, Controllers.AddBuilders);
        var ns = session.Namespace;
        var open = await runs.CreateAsync(new BuildRun
        {
            Metadata = new V1ObjectMeta { Name = "by-hand", NamespaceProperty = ns },
            Spec = new BuildRunSpec { BuilderRef = new LocalReference { Name = "desktop" } },
        }, CancellationToken.None);
        open.Status = new BuildRunStatus { Phase = BuildRunPhase.Running, AttemptCount = 1 };
        await runs.ReplaceStatusAsync(open, CancellationToken.None);
        await bootstraps.CreateAsync(Bootstrap(ns), CancellationToken.None);
        var builder = await builders.CreateAsync(Builder(ns, s => s.AutoBuild = new AutoBuild { Schedule = "* * * * *" }), CancellationToken.None);
        await new StatusWriter<GentooBuilder, GentooBuilderSpec, GentooBuilderStatus>(builders).UpdateAsync(builder, b => b.Status.LastScheduleTime = DateTime.UtcNow.AddMinutes(-2), CancellationToken.None);

        await WaitForAsync(ns, b => b.Status.LastScheduleTime > DateTime.UtcNow.AddMinutes(-1.5), "the schedule to come due");
        (await runs.ListAsync(ns, CancellationToken.None)).Items.Select(r => r.Name()).ShouldBe(["by-hand"]);
        var events = await cluster.Kube.CoreV1.ListNamespacedEventAsync(ns);
        events.Items.ShouldContain(e => e.Reason == "SkippedOverlap" && e.InvolvedObject.Name == "desktop");
    }

    [PodDrivingFact]
    public async Task A_suspended_schedule_creates_nothing_and_resuming_it_catches_up_once()
    {
        await using var session = await LifecycleSession.StartAsync(cluster, _ => new PodScript(0, Success), Controllers.AddBootstraps, Controllers.AddBuilders);
        var ns = session.Namespace;
        await bootstraps.CreateAsync(Bootstrap(ns), CancellationToken.None);
        var builder = await builders.CreateAsync(Builder(ns, s => s.AutoBuild = new AutoBuild { Schedule = "* * * * *", Suspend = true }), CancellationToken.None);
        var since = DateTime.UtcNow.AddMinutes(-5);
        await new StatusWriter<GentooBuilder, GentooBuilderSpec, GentooBuilderStatus>(builders).UpdateAsync(builder, b => b.Status.LastScheduleTime = since, CancellationToken.None);
        await WaitForAsync(ns, b => Conditions.IsTrue(b.Status.Conditions, ConditionTypes.Ready), "the builder to be ready");
        await Task.Delay(1000);
        (await runs.ListAsync(ns, CancellationToken.None)).Items.ShouldBeEmpty("a suspended schedule creates no runs");

        await builders.PatchAsync(ns, "desktop", TestPatches.Merge(new { spec = new { autoBuild = new { suspend = false } } }), CancellationToken.None);

        await WaitForAsync(ns, b => b.Status.LastScheduleTime > since.AddMinutes(3), "the schedule to catch up");
        (await runs.ListAsync(ns, CancellationToken.None)).Items.Count.ShouldBe(1, "only the newest missed occurrence runs");
    }

    [PodDrivingFact]
    public async Task A_ready_builder_serves_its_packages_from_a_binhost_that_follows_the_node_of_its_builds()
    {
        await using var session = await StartAsync();
        var ns = session.Namespace;
        await bootstraps.CreateAsync(Bootstrap(ns), CancellationToken.None);
        await builders.CreateAsync(Builder(ns), CancellationToken.None);
        var ready = await WaitForAsync(ns, b => b.Status.BinhostUrl is not null, "the binhost to be recorded");
        ready.Status.BinhostUrl.ShouldBe($"http://desktop-binhost.{ns}.svc:80/");

        var deployment = await cluster.Kube.AppsV1.ReadNamespacedDeploymentAsync("desktop-binhost", ns);
        var container = deployment.Spec.Template.Spec.Containers.Single();
        container.Args.ShouldBe(["binhost", "--pkgdir", "/var/cache/binpkgs", "--name", "desktop", "--port", "8080", "--namespace", ns, "--signing-key", "/etc/gentoo-binhost/signing/public.asc"]);
        deployment.Spec.Template.Spec.ServiceAccountName.ShouldBe("desktop-binhost", "it reads the builder's runs for its page");
        (await cluster.Kube.RbacAuthorizationV1.ReadNamespacedRoleAsync("desktop-binhost", ns)).Rules.Single().Verbs.ShouldBe(["get", "list"], "reading runs, not making them: builds on demand are off");
        container.VolumeMounts.Single(m => m.MountPath == "/var/cache/binpkgs").ReadOnlyProperty.ShouldBe(true);
        deployment.Spec.Template.Spec.Volumes.Single(v => v.PersistentVolumeClaim is not null).PersistentVolumeClaim.ClaimName.ShouldBe("desktop-binpkgs");
        (await cluster.Kube.CoreV1.ReadNamespacedServiceAsync("desktop-binhost", ns)).Spec.Ports.Single().Port.ShouldBe(80);

        await CreateFirefoxRunAsync(ns);
        var done = await Eventually.GetAsync(async () => (await runs.GetAsync(ns, "firefox", CancellationToken.None))!, r => r.Status.Phase == BuildRunPhase.Succeeded, "the build to succeed");
        var node = done.Status.Attempts!.Single().Node!;
        await Eventually.GetAsync(() => cluster.Kube.AppsV1.ReadNamespacedDeploymentAsync("desktop-binhost", ns),
            d => d.Spec.Template.Spec.NodeSelector?.TryGetValue("kubernetes.io/hostname", out var on) == true && on == node, "the binhost to follow the build's node");

        await builders.PatchAsync(ns, "desktop", TestPatches.Merge(new { spec = new { binhost = new { enabled = false } } }), CancellationToken.None);
        await WaitForAsync(ns, b => b.Status.BinhostUrl is null, "the binhost to be turned off");
        (await cluster.Kube.AppsV1.ListNamespacedDeploymentAsync(ns)).Items.ShouldBeEmpty();
    }

    [TestServerFact]
    public async Task A_binhost_the_api_server_refuses_keeps_no_build_from_running_and_comes_once_it_is_allowed()
    {
        await using var session = await StartAsync();
        var ns = session.Namespace;
        // As a ResourceQuota on Services would answer, for this namespace's binhost only.
        cluster.Server!.Faults.FailNext(int.MaxValue, 403, (method, path) => method == "POST" && path == $"/api/v1/namespaces/{ns}/services");
        try
        {
            await bootstraps.CreateAsync(Bootstrap(ns), CancellationToken.None);
            await builders.CreateAsync(Builder(ns), CancellationToken.None);
            var ready = await WaitForAsync(ns, b => Conditions.IsTrue(b.Status.Conditions, ConditionTypes.Ready), "the builder to be ready without its binhost");
            ready.Status.BinhostUrl.ShouldBeNull();

            await CreateFirefoxRunAsync(ns);
            await Eventually.GetAsync(async () => (await runs.GetAsync(ns, "firefox", CancellationToken.None))!, r => r.Status.Phase == BuildRunPhase.Succeeded, "the build to succeed without a binhost");
            (await cluster.Kube.CoreV1.ListNamespacedServiceAsync(ns)).Items.ShouldBeEmpty();
        }
        finally
        {
            cluster.Server!.Faults.FailNext(0);
        }

        var served = await WaitForAsync(ns, b => b.Status.BinhostUrl is not null, "the binhost once its Service is allowed");
        served.Status.BinhostUrl.ShouldBe($"http://desktop-binhost.{ns}.svc:80/");
    }

    /// <summary>What a build or publish pod reports of the releases on the volume.</summary>
    private static string ReleaseReport(AgentStep step, string? made, string published, params string[] kept) => new AgentReport
    {
        Step = step,
        Result = AgentResult.Success,
        Outcome = step == AgentStep.Build ? Outcome.Success : null,
        Releases = new ReportReleases(made, published, [.. kept.Select(id => new ReportRelease(id, DateTimeOffset.UtcNow, "firefox", 4, 1, 0, 0, false))], made == "2" ? new ReportPurge(1, 2, 2048) : null),
    }.ToTerminationMessage();

    [PodDrivingFact]
    public async Task A_successful_run_leaves_a_release_in_status_and_a_persons_choice_runs_a_publish_pod()
    {
        var builds = 0;
        await using var session = await LifecycleSession.StartAsync(cluster, pod => pod switch
        {
            _ when pod.StartsWith("firefox-", StringComparison.Ordinal) || pod.StartsWith("nss-", StringComparison.Ordinal) => Interlocked.Increment(ref builds) == 1
                ? new PodScript(0, ReleaseReport(AgentStep.Build, "1", "1", "1"))
                : new PodScript(0, ReleaseReport(AgentStep.Build, "2", "2", "1", "2")),
            _ when pod.Contains("-publish-", StringComparison.Ordinal) => new PodScript(0, ReleaseReport(AgentStep.Publish, null, "1", "1", "2")),
            _ => new PodScript(0, Success),
        }, Controllers.AddBootstraps, Controllers.AddBuilders, Controllers.AddBuildRuns);
        var ns = session.Namespace;
        await bootstraps.CreateAsync(Bootstrap(ns), CancellationToken.None);
        await builders.CreateAsync(Builder(ns, spec => spec.Releases = new ReleasePolicy { Keep = 3 }), CancellationToken.None);
        await WaitForAsync(ns, b => Conditions.IsTrue(b.Status.Conditions, ConditionTypes.Ready), "the builder to be ready");

        await CreateFirefoxRunAsync(ns);
        var first = await Eventually.GetAsync(async () => (await runs.GetAsync(ns, "firefox", CancellationToken.None))!, r => r.Status.Phase == BuildRunPhase.Succeeded, "the build to succeed");
        first.Status.Release.ShouldBe("1");
        var pod = await cluster.Kube.CoreV1.ReadNamespacedPodAsync("firefox-1", ns);
        pod.Spec.Containers[0].Args.ShouldContain("--release-run");
        pod.Spec.Containers[0].Args.SkipWhile(a => a != "--keep-releases").Skip(1).First().ShouldBe("3");
        (await WaitForAsync(ns, b => b.Status.Releases?.Published == "1", "the release in the builder's status")).Status.Releases!.Kept!.Single().Run.ShouldBe("firefox");

        await runs.CreateAsync(new BuildRun
        {
            Metadata = new V1ObjectMeta { Name = "nss", NamespaceProperty = ns },
            Spec = new BuildRunSpec { BuilderRef = new LocalReference { Name = "desktop" }, Packages = ["dev-libs/nss"] },
        }, CancellationToken.None);
        var second = await WaitForAsync(ns, b => b.Status.Releases?.Published == "2", "the second release to be published");
        second.Status.Releases!.LastPurge!.Files.ShouldBe(2);

        // A person rolls back: a publish pod on the builder's volumes, and the status follows its report.
        await builders.PatchAsync(ns, "desktop", TestPatches.Merge(new { metadata = new { annotations = new Dictionary<string, string> { [RequestAnnotations.Publish] = "1" } } }), CancellationToken.None);
        var rolledBack = await WaitForAsync(ns, b => b.Status.Releases?.Published == "1" && b.Status.CurrentMaintenance is null, "the rollback to be published");
        rolledBack.Status.Releases!.LastHandledPublish.ShouldBe("1");
        var publish = await cluster.Kube.CoreV1.ReadNamespacedPodAsync("desktop-publish-1", ns);
        publish.Spec.Containers[0].Args.SkipWhile(a => a != "--publish").Take(2).ShouldBe(["--publish", "1"]);
        var events = await cluster.Kube.CoreV1.ListNamespacedEventAsync(ns);
        events.Items.Select(e => e.Reason).ShouldContain("Published");
        events.Items.Select(e => e.Reason).ShouldContain("Purged");
    }

    [PodDrivingFact]
    public async Task On_a_read_write_many_package_volume_the_binhost_runs_on_any_node()
    {
        await using var session = await StartAsync();
        var ns = session.Namespace;
        await bootstraps.CreateAsync(Bootstrap(ns), CancellationToken.None);
        await builders.CreateAsync(Builder(ns, s => s.Storage = new BuilderStorage { Binpkgs = new BinpkgsVolumeSpec { AccessMode = VolumeAccessMode.ReadWriteMany } }), CancellationToken.None);
        await WaitForAsync(ns, b => b.Status.BinhostUrl is not null, "the binhost to be recorded");
        (await cluster.Kube.CoreV1.ReadNamespacedPersistentVolumeClaimAsync("desktop-binpkgs", ns)).Spec.AccessModes.ShouldBe(["ReadWriteMany"]);

        await CreateFirefoxRunAsync(ns);
        await Eventually.GetAsync(async () => (await runs.GetAsync(ns, "firefox", CancellationToken.None))!, r => r.Status.Phase == BuildRunPhase.Succeeded, "the build to succeed");
        await WaitForAsync(ns, b => b.Status.LastSuccessfulBuildRun == "firefox", "the builder to see the finished run");
        await Task.Delay(1000); // the reconcile that recorded it goes on to the binhost, which a ReadWriteOnce volume would pin by now

        var deployment = await cluster.Kube.AppsV1.ReadNamespacedDeploymentAsync("desktop-binhost", ns);
        (deployment.Spec.Template.Spec.NodeSelector ?? new Dictionary<string, string>()).ShouldNotContainKey("kubernetes.io/hostname", "the volume attaches on any node");
        deployment.Spec.Strategy.Type.ShouldBe("RollingUpdate");
    }

    [PodDrivingFact]
    public async Task A_rebuild_request_creates_one_build_run_of_the_auto_build_packages()
    {
        await using var session = await LifecycleSession.StartAsync(cluster, _ => new PodScript(0, Success), Controllers.AddBootstraps, Controllers.AddBuilders);
        var ns = session.Namespace;
        await bootstraps.CreateAsync(Bootstrap(ns), CancellationToken.None);
        await builders.CreateAsync(Builder(ns, s => s.AutoBuild = new AutoBuild { Schedule = "@yearly", Packages = ["kde-plasma/plasma-meta"], Suspend = true }), CancellationToken.None);
        var ready = await WaitForAsync(ns, b => Conditions.IsTrue(b.Status.Conditions, ConditionTypes.Ready), "the builder to be ready");

        await Requests.AnnotateAsync(builders, ns, "desktop", new Dictionary<string, string> { [RequestAnnotations.Rebuild] = "please" });

        await WaitForAsync(ns, b => b.Status.LastHandledRebuild == "please", "the rebuild request to be handled");
        var created = (await runs.ListAsync(ns, CancellationToken.None)).Items.ShouldHaveSingleItem();
        created.Spec.Packages.ShouldBe(["kde-plasma/plasma-meta"]);
        created.Metadata.Annotations[RequestAnnotations.Rebuild].ShouldBe("please");
    }

    [TestServerFact]
    public async Task Snapshots_after_successful_builds_keep_the_newest_and_never_touch_others()
    {
        await using var session = await LifecycleSession.StartAsync(cluster, _ => new PodScript(0, Success), Controllers.AddBootstraps, Controllers.AddBuilders);
        var ns = session.Namespace;
        await SnapshotClassAsync(ns);
        await snapshots.CreateAsync(new VolumeSnapshot
        {
            Metadata = new V1ObjectMeta { Name = "made-by-hand", NamespaceProperty = ns, Labels = new Dictionary<string, string> { [ObjectLabels.Builder] = "desktop" } },
            Spec = new VolumeSnapshotSpec { Source = new VolumeSnapshotSource { PersistentVolumeClaimName = "desktop-root" } },
        }, CancellationToken.None);
        await bootstraps.CreateAsync(Bootstrap(ns), CancellationToken.None);
        await builders.CreateAsync(Builder(ns, s =>
        {
            s.Snapshots = new SnapshotPolicy { OnSuccess = true, Keep = 1 };
            s.Storage = new BuilderStorage { Root = new RootVolumeSpec { StorageClassName = "fast-" + ns } };
        }), CancellationToken.None);
        await WaitForAsync(ns, b => Conditions.IsTrue(b.Status.Conditions, ConditionTypes.Ready), "the builder to be ready");

        foreach (var name in new[] { "first", "second" })
        {
            var run = await runs.CreateAsync(new BuildRun
            {
                Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = ns },
                Spec = new BuildRunSpec { BuilderRef = new LocalReference { Name = "desktop" } },
            }, CancellationToken.None);
            run.Status = new BuildRunStatus { Phase = BuildRunPhase.Succeeded, CompletionTime = DateTime.UtcNow };
            await runs.ReplaceStatusAsync(run, CancellationToken.None);
            var taken = await WaitForAsync(ns, b => b.Status.Snapshots?.Any(s => s.BuildRun == name) == true, $"a snapshot after {name}");
            await MarkReadyAsync(ns, taken.Status.Snapshots!.Single(s => s.BuildRun == name).Name!);
            await Task.Delay(1100);
        }

        var kept = await WaitForAsync(ns, b => b.Status.Snapshots is { Count: 1 } s && s[0].BuildRun == "second" && s[0].ReadyToUse == true, "only the newest snapshot to be kept");
        var all = (await snapshots.ListAsync(ns, CancellationToken.None)).Items.Select(s => s.Name()).Order().ToList();
        all.ShouldBe(new[] { "made-by-hand", kept.Status.Snapshots![0].Name! }.Order().ToList());
    }

    [GarbageCollectorFact]
    public async Task Deleting_a_builder_keeps_its_binary_packages_and_snapshots()
    {
        await using var session = await StartAsync();
        var ns = session.Namespace;
        await bootstraps.CreateAsync(Bootstrap(ns), CancellationToken.None);
        await builders.CreateAsync(Builder(ns), CancellationToken.None);
        await WaitForAsync(ns, b => Conditions.IsTrue(b.Status.Conditions, ConditionTypes.Ready), "the builder to be ready");

        await builders.DeleteAsync(ns, "desktop", CancellationToken.None);

        var left = await Eventually.GetAsync(async () => (await cluster.Kube.CoreV1.ListNamespacedPersistentVolumeClaimAsync(ns)).Items.Select(c => c.Name()).Order().ToList(),
            names => !names.Contains("desktop-root") && !names.Contains("desktop-distfiles"), "the builder's root and source archive volumes to go with it");
        left.ShouldContain("desktop-binpkgs");
        (await cluster.Kube.CoreV1.ReadNamespacedSecretAsync("desktop-signing-key", ns)).Data.ShouldContainKey("signing.asc", "clients trust the key: it outlives the builder");
        await Eventually.GetAsync(async () => (await cluster.Kube.CoreV1.ListNamespacedConfigMapAsync(ns)).Items.Select(c => c.Name()).ToList(),
            names => !names.Contains(DesiredSigning.PublicConfigMapName("desktop")), "the published public key to go with the builder");
    }

    [PodDrivingFact]
    public async Task A_builder_without_a_key_signs_with_one_the_operator_makes_once_and_publishes_its_public_half()
    {
        await using var session = await StartAsync();
        var ns = session.Namespace;
        await bootstraps.CreateAsync(Bootstrap(ns), CancellationToken.None);
        await builders.CreateAsync(Builder(ns), CancellationToken.None);

        var ready = await WaitForAsync(ns, b => Conditions.IsTrue(b.Status.Conditions, ConditionTypes.Ready) && b.Status.SigningKeyFingerprint is not null, "the builder to sign");

        var secret = await cluster.Kube.CoreV1.ReadNamespacedSecretAsync("desktop-signing-key", ns);
        secret.Metadata.OwnerReferences.ShouldBeNull();
        secret.Metadata.Labels[ObjectLabels.Builder].ShouldBe("desktop");
        var key = SigningKey.Parse(secret.Data["signing.asc"], DateTimeOffset.UtcNow);
        key.Fingerprint.ShouldBe(ready.Status.SigningKeyFingerprint);
        ready.Status.SigningKeyExpires.ShouldBe(key.Expires!.Value.UtcDateTime);
        key.Expires.Value.ShouldBeGreaterThan(DateTimeOffset.UtcNow + SigningKeyGenerator.Lifetime - TimeSpan.FromHours(1));
        Encoding.ASCII.GetString(secret.Data[DesiredSigning.RevocationKey]).ShouldContain("This is a revocation certificate");
        key.UserIds.ShouldBe([$"gentoo-builder binhost {ns}/desktop"]);
        var published = await cluster.Kube.CoreV1.ReadNamespacedConfigMapAsync(DesiredSigning.PublicConfigMapName("desktop"), ns);
        SigningKey.PublicFingerprint(Encoding.ASCII.GetBytes(published.Data["public.asc"])).ShouldBe(key.Fingerprint);
        published.Data["public.asc"].ShouldNotContain("PRIVATE");

        await CreateFirefoxRunAsync(ns);
        await Eventually.GetAsync(async () => (await runs.GetAsync(ns, "firefox", CancellationToken.None))!, r => r.Status.Phase == BuildRunPhase.Succeeded, "the build to succeed");
        var pod = await cluster.Kube.CoreV1.ReadNamespacedPodAsync(DesiredBuildPod.PodName("firefox", 1), ns);
        pod.Spec.Volumes.Single(v => v.Name == "signing").Secret.SecretName.ShouldBe("desktop-signing-key");
        (await cluster.Kube.CoreV1.ReadNamespacedSecretAsync("desktop-signing-key", ns)).Data["signing.asc"].ShouldBe(secret.Data["signing.asc"], "made once, never replaced");
    }

    [PodDrivingFact]
    public async Task A_builder_naming_a_missing_or_unusable_key_waits_saying_what_to_fix_and_builds_once_it_can_sign()
    {
        await using var session = await StartAsync();
        var ns = session.Namespace;
        var both = Builder(ns, spec => spec.Signing = new SigningSpec { KeySecretRef = new SecretKeyReference { Name = "desktop-key" }, Unsigned = true });
        var refused = await Should.ThrowAsync<k8s.Autorest.HttpOperationException>(() => builders.CreateAsync(both, CancellationToken.None));
        refused.Response.Content.ShouldContain("set spec.signing.keySecretRef or spec.signing.unsigned: true, not both");
        await bootstraps.CreateAsync(Bootstrap(ns), CancellationToken.None);
        await builders.CreateAsync(Builder(ns, spec => spec.Signing = new SigningSpec { KeySecretRef = new SecretKeyReference { Name = "desktop-key" } }), CancellationToken.None);
        await CreateFirefoxRunAsync(ns);

        var missing = await WaitForAsync(ns, b => Conditions.Find(b.Status.Conditions, ConditionTypes.Ready)?.Reason == Reasons.SigningKeyMissing, "the builder to name its missing key");
        Conditions.Find(missing.Status.Conditions, ConditionTypes.Ready)!.Message.ShouldContain("Secret desktop-key (spec.signing.keySecretRef)");
        var secret = new V1Secret
        {
            Metadata = new V1ObjectMeta { Name = "desktop-key", NamespaceProperty = ns },
            Data = new Dictionary<string, byte[]> { ["signing.asc"] = File.ReadAllBytes(Checkout.PathOf("tests", "Fixtures", "signing", "rsa-protected.asc")) },
        };
        await cluster.Kube.CoreV1.CreateNamespacedSecretAsync(secret, ns);
        var invalid = await WaitForAsync(ns, b => Conditions.Find(b.Status.Conditions, ConditionTypes.Ready)?.Reason == Reasons.SigningKeyInvalid, "the builder to refuse the protected key");
        Conditions.Find(invalid.Status.Conditions, ConditionTypes.Ready)!.Message.ShouldContain("passphrase");
        (await runs.GetAsync(ns, "firefox", CancellationToken.None))!.Status.AttemptCount.GetValueOrDefault().ShouldBe(0, "nothing builds unsigned meanwhile");
        (await cluster.Kube.CoreV1.ListNamespacedSecretAsync(ns)).Items.ShouldHaveSingleItem("the operator makes no key of its own when one is named");

        secret.Data["signing.asc"] = File.ReadAllBytes(Checkout.PathOf("tests", "Fixtures", "signing", "ed25519-expired.asc"));
        secret = await cluster.Kube.CoreV1.ReplaceNamespacedSecretAsync(secret, "desktop-key", ns);
        var expired = await WaitForAsync(ns, b => Conditions.Find(b.Status.Conditions, ConditionTypes.Ready)?.Message?.Contains("expired") == true, "the builder to refuse the expired key");
        Conditions.Find(expired.Status.Conditions, ConditionTypes.Ready)!.Message.ShouldContain("Secret desktop-key key 'signing.asc' cannot sign binary packages");
        Conditions.Find(expired.Status.Conditions, ConditionTypes.Ready)!.Message.ShouldContain("expired on 2020-01-31");

        secret.Data["signing.asc"] = File.ReadAllBytes(Checkout.PathOf("tests", "Fixtures", "signing", "ed25519-unprotected.asc"));
        await cluster.Kube.CoreV1.ReplaceNamespacedSecretAsync(secret, "desktop-key", ns);

        var signing = await WaitForAsync(ns, b => Conditions.IsTrue(b.Status.Conditions, ConditionTypes.Ready), "the builder to accept the key");
        signing.Status.SigningKeyFingerprint.ShouldBe(File.ReadAllText(Checkout.PathOf("tests", "Fixtures", "signing", "ed25519.fingerprint")).Trim());
        await Eventually.GetAsync(async () => (await runs.GetAsync(ns, "firefox", CancellationToken.None))!, r => r.Status.Phase == BuildRunPhase.Succeeded, "the build to run once the key can sign");
    }

    [PodDrivingFact]
    public async Task A_key_the_operator_made_is_extended_a_year_before_it_expires_keeping_its_fingerprint_and_gains_a_revocation_certificate()
    {
        await using var session = await StartAsync();
        var ns = session.Namespace;
        var builder = Builder(ns);
        // A key an earlier operator made 400 days ago: less than a year left, and no revocation certificate beside it.
        var aged = DesiredSigning.GeneratedSecret(builder, SigningKeyGenerator.Generate(DesiredSigning.UserId(builder), DateTimeOffset.UtcNow.AddDays(-400)));
        aged.Data.Remove(DesiredSigning.RevocationKey);
        await cluster.Kube.CoreV1.CreateNamespacedSecretAsync(aged, ns);
        var fingerprint = SigningKey.Parse(aged.Data[DesiredSigning.DefaultKey], DateTimeOffset.UtcNow).Fingerprint;
        await bootstraps.CreateAsync(Bootstrap(ns), CancellationToken.None);
        await builders.CreateAsync(builder, CancellationToken.None);

        var ready = await WaitForAsync(ns, b => b.Status.SigningKeyExpires > DateTime.UtcNow.AddDays(700), "the builder to sign with the extended key");

        ready.Status.SigningKeyFingerprint.ShouldBe(fingerprint);
        var kept = await cluster.Kube.CoreV1.ReadNamespacedSecretAsync(aged.Name(), ns);
        SigningKey.Parse(kept.Data[DesiredSigning.DefaultKey], DateTimeOffset.UtcNow).Expires!.Value.UtcDateTime.ShouldBe(ready.Status.SigningKeyExpires!.Value);
        kept.Data.ShouldContainKey(DesiredSigning.RevocationKey);
        var published = await cluster.Kube.CoreV1.ReadNamespacedConfigMapAsync(DesiredSigning.PublicConfigMapName("desktop"), ns);
        published.Data["public.asc"].ShouldBe(SigningKey.Parse(kept.Data[DesiredSigning.DefaultKey], DateTimeOffset.UtcNow).PublicKeyArmored, "the binhost hands out the extended key");
        var events = await cluster.Kube.CoreV1.ListNamespacedEventAsync(ns);
        events.Items.ShouldContain(e => e.Reason == "SigningKeyExtended" && e.Message.Contains(aged.Name()));
    }

    [PodDrivingFact]
    public async Task A_time_zone_the_operator_does_not_know_stalls_the_builder_at_once_naming_the_field_until_mended()
    {
        await using var session = await StartAsync();
        var ns = session.Namespace;
        // No bootstrap yet: the builder waits for it, and says at once what else is wrong.
        await builders.CreateAsync(Builder(ns, spec => spec.AutoBuild = new AutoBuild { Schedule = "0 2 * * *", TimeZone = "Mars/Olympus" }), CancellationToken.None);

        var stalled = await WaitForAsync(ns, b => Conditions.IsTrue(b.Status.Conditions, ConditionTypes.Stalled), "the builder to stall on its time zone");

        var condition = Conditions.Find(stalled.Status.Conditions, ConditionTypes.Stalled)!;
        condition.Reason.ShouldBe(Reasons.InvalidSpec);
        condition.Message.ShouldStartWith("spec.autoBuild.timeZone 'Mars/Olympus' is not a known time zone");
        Conditions.Find(stalled.Status.Conditions, ConditionTypes.Ready)!.Reason.ShouldBe(Reasons.BootstrapNotFound);

        await builders.PatchAsync(ns, "desktop", TestPatches.Merge(new { spec = new { autoBuild = new { timeZone = "Europe/Berlin" } } }), CancellationToken.None);
        await WaitForAsync(ns, b => b.Status.Conditions?.Any(c => c.Type == ConditionTypes.Stalled) == false && b.Status.ObservedGeneration == b.Metadata.Generation, "the mended builder not to be stalled");
    }

    [PodDrivingFact]
    public async Task An_unsigned_builder_makes_no_key_and_its_binhost_tells_clients_not_to_verify()
    {
        await using var session = await StartAsync();
        var ns = session.Namespace;
        await bootstraps.CreateAsync(Bootstrap(ns), CancellationToken.None);
        await builders.CreateAsync(Builder(ns, spec => spec.Signing = new SigningSpec { Unsigned = true }), CancellationToken.None);

        var ready = await WaitForAsync(ns, b => Conditions.IsTrue(b.Status.Conditions, ConditionTypes.Ready) && b.Status.BinhostUrl is not null, "the builder to be ready");

        ready.Status.SigningKeyFingerprint.ShouldBeNull();
        (await cluster.Kube.CoreV1.ListNamespacedSecretAsync(ns)).Items.ShouldBeEmpty();
        var deployment = await cluster.Kube.AppsV1.ReadNamespacedDeploymentAsync("desktop-binhost", ns);
        deployment.Spec.Template.Spec.Containers.Single().Args.ShouldNotContain("--signing-key");
    }
}
