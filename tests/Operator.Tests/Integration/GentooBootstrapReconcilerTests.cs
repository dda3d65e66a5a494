using System.Text.Json;
using Gentoo.Entities.V1Alpha1;
using Gentoo.Kubernetes.TestServer;
using Gentoo.Operator.Decisions;
using Gentoo.Operator.Desired;
using Gentoo.Operator.Hosting;
using Gentoo.Operator.Reconcilers;
using Gentoo.Runtime;
using Gentoo.Operator.Storage;
using k8s;
using k8s.Models;

namespace Gentoo.Operator.Tests.Integration;

/// <summary>
/// GentooBootstraps end to end through the API: the reconciler makes the root volume, configuration and plan and
/// starts bootstrap pods; the kubelet simulator ends them the way the agent does; the root is then snapshotted or,
/// where the cluster cannot, kept to be copied.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class GentooBootstrapReconcilerTests(TestCluster cluster)
{
    private const string Success = """{"step":"bootstrap","result":"success","outcome":"success","emergeExitCode":0,"packagesMerged":2,"completedSteps":["freetype-without-harfbuzz","harfbuzz"]}""";

    private const string Cycle = """{"step":"bootstrap","result":"needs-operator","outcome":"circular-dependency","emergeExitCode":1,"atoms":["app-text/docgen-1.4","dev-libs/libmarkup-3.0"],"fixes":[{"file":"package.use","line":"=dev-libs/libmarkup-3.0 -doc","temporary":true}],"bootstrapStep":"harfbuzz","completedSteps":["freetype-without-harfbuzz"]}""";

    private readonly ResourceApi<GentooBootstrap> bootstraps = new(cluster.Kube);

    private static GentooBootstrap Plasma(string ns, bool autoBreakCycles = false) => new()
    {
        Metadata = new V1ObjectMeta { Name = "plasma", NamespaceProperty = ns },
        Spec = new GentooBootstrapSpec
        {
            Stage3 = new Stage3Source { Image = "docker.io/gentoo/stage3:amd64-desktop-openrc" },
            Profile = "default/linux/amd64/23.0/desktop/plasma",
            Portage = new PortageConfig { MakeConf = new Dictionary<string, string> { ["FEATURES"] = "buildpkg" } },
            BootstrapSteps =
            [
                new BootstrapStep { Name = "freetype-without-harfbuzz", Atoms = ["media-libs/freetype"], Use = ["-harfbuzz"] },
                new BootstrapStep { Name = "harfbuzz", Atoms = ["media-libs/harfbuzz"] },
            ],
            AutoBreakCycles = autoBreakCycles,
        },
    };

    private async Task<GentooBootstrap> WaitForAsync(string ns, Func<GentooBootstrap, bool> done, string what)
    {
        try
        {
            return await Eventually.GetAsync(async () => (await bootstraps.GetAsync(ns, "plasma", CancellationToken.None))!, done, what);
        }
        catch (TimeoutException e)
        {
            var pods = await cluster.Kube.CoreV1.ListNamespacedPodAsync(ns);
            throw new TimeoutException(e.Message + " PODS: " + string.Join(", ", pods.Items.Select(p => $"{p.Metadata.Name}: {KubernetesJson.Serialize(p.Status)}")));
        }
    }

    private async Task<IReadOnlyList<string>> PlanStepsAsync(string ns)
    {
        var plan = await cluster.Kube.CoreV1.ReadNamespacedConfigMapAsync(DesiredBootstrap.PlanConfigMapName("plasma"), ns);
        using var json = JsonDocument.Parse(plan.Data[DesiredBootstrap.PlanKey]);
        return [.. json.RootElement.GetProperty("steps").EnumerateArray().Select(s => s.GetProperty("name").GetString()!)];
    }

    [PodDrivingFact]
    public async Task A_bootstrap_runs_its_steps_and_without_a_snapshot_class_keeps_its_root_volume_to_copy()
    {
        await using var session = await LifecycleSession.StartAsync(cluster, _ => new PodScript(0, Success), Controllers.AddBootstraps);
        var ns = session.Namespace;
        await bootstraps.CreateAsync(Plasma(ns), CancellationToken.None);

        var ready = await WaitForAsync(ns, b => b.Status.Phase == BootstrapPhase.Ready, "the bootstrap to be ready");
        ready.Status.CompletedSteps.ShouldBe(["freetype-without-harfbuzz", "harfbuzz"]);
        ready.Status.Snapshot!.Method.ShouldBe("PvcCopy");
        ready.Status.Snapshot.Name.ShouldBe("plasma-bootstrap-root");
        var condition = Conditions.Find(ready.Status.Conditions, ConditionTypes.Ready)!;
        condition.Status.ShouldBe("True");
        condition.Message.ShouldContain("copied instead", customMessage: "status says why the root is copied rather than snapshotted");
        Conditions.Find(ready.Status.Conditions, ConditionTypes.Reconciling).ShouldBeNull();

        var root = await cluster.Kube.CoreV1.ReadNamespacedPersistentVolumeClaimAsync("plasma-bootstrap-root", ns);
        root.Metadata.OwnerReferences.Single().Uid.ShouldBe(ready.Metadata.Uid);
        var config = await cluster.Kube.CoreV1.ReadNamespacedConfigMapAsync(DesiredBootstrap.ConfigMapName("plasma"), ns);
        config.Data["make.profile"].ShouldBe("/var/db/repos/gentoo/profiles/default/linux/amd64/23.0/desktop/plasma\n");
        config.Data["make.conf"].ShouldBe("FEATURES=\"buildpkg\"\n");
        var pod = await cluster.Kube.CoreV1.ReadNamespacedPodAsync(DesiredBootstrap.PodName("plasma", 1), ns);
        pod.Spec.Containers[0].Image.ShouldBe("docker.io/gentoo/stage3:amd64-desktop-openrc");
        pod.Spec.Containers[0].Args.ShouldContain("bootstrap");
        pod.Spec.InitContainers.Single().Command[0].ShouldBe("cp", "the stage3 holds nothing of ours: the agent is copied in from the operator image");
        (await PlanStepsAsync(ns)).ShouldBe(["freetype-without-harfbuzz", "harfbuzz"]);
    }

    [TestServerFact]
    public async Task With_a_snapshot_class_for_its_storage_the_bootstrap_is_ready_once_the_snapshot_is()
    {
        var suffix = Guid.NewGuid().ToString("N")[..8];
        var storageClass = "fast-" + suffix;
        var driver = $"csi-{suffix}.example.com";
        await cluster.Kube.StorageV1.CreateStorageClassAsync(new V1StorageClass { Metadata = new V1ObjectMeta { Name = storageClass }, Provisioner = driver });
        await cluster.Kube.CustomObjects.CreateClusterCustomObjectAsync(
            new VolumeSnapshotClass { Metadata = new V1ObjectMeta { Name = "snap-" + suffix }, Driver = driver, DeletionPolicy = "Retain" },
            VolumeSnapshot.Group, "v1", "volumesnapshotclasses");
        await using var session = await LifecycleSession.StartAsync(cluster, _ => new PodScript(0, Success), Controllers.AddBootstraps);
        var ns = session.Namespace;
        var plasma = Plasma(ns);
        plasma.Spec.Storage = new BootstrapStorage { StorageClassName = storageClass };
        await bootstraps.CreateAsync(plasma, CancellationToken.None);

        var snapshotting = await WaitForAsync(ns, b => b.Status.Snapshot?.Method == "VolumeSnapshot", "the snapshot to be requested");
        snapshotting.Status.Phase.ShouldBe(BootstrapPhase.Snapshotting);
        Conditions.Find(snapshotting.Status.Conditions, ConditionTypes.Ready)!.Reason.ShouldBe(Reasons.SnapshotNotReady);
        var snapshots = new ResourceApi<VolumeSnapshot>(cluster.Kube);
        var snapshot = (await snapshots.GetAsync(ns, snapshotting.Status.Snapshot!.Name!, CancellationToken.None))!;
        snapshot.Spec.Source.PersistentVolumeClaimName.ShouldBe("plasma-bootstrap-root");
        snapshot.Spec.VolumeSnapshotClassName.ShouldBe("snap-" + suffix);
        snapshot.Metadata.OwnerReferences.ShouldBeNull("a snapshot outlives the bootstrap it was taken of");

        // The snapshot controller's part.
        snapshot.Status = new VolumeSnapshotStatus { ReadyToUse = true, CreationTime = DateTime.UtcNow };
        await snapshots.ReplaceStatusAsync(snapshot, CancellationToken.None);

        var ready = await WaitForAsync(ns, b => b.Status.Phase == BootstrapPhase.Ready, "the bootstrap to be ready");
        ready.Status.Snapshot!.ReadyToUse.ShouldBe(true);
        ready.Status.Snapshot.Name.ShouldBe(snapshot.Metadata.Name);
    }

    [PodDrivingFact]
    public async Task A_circular_dependency_waits_for_a_person_naming_the_cycle_and_the_use_change_and_a_resume_runs_on()
    {
        await using var session = await LifecycleSession.StartAsync(cluster,
            pod => pod.EndsWith("-1", StringComparison.Ordinal) ? new PodScript(10, Cycle) : new PodScript(0, Success), Controllers.AddBootstraps);
        var ns = session.Namespace;
        await bootstraps.CreateAsync(Plasma(ns), CancellationToken.None);

        var awaiting = await WaitForAsync(ns, b => b.Status.Phase == BootstrapPhase.AwaitingOperator, "the bootstrap to wait for a person");
        var condition = Conditions.Find(awaiting.Status.Conditions, ConditionTypes.AwaitingOperator)!;
        condition.Reason.ShouldBe("CircularDependency");
        condition.Message.ShouldContain("app-text/docgen-1.4 -> dev-libs/libmarkup-3.0");
        condition.Message.ShouldContain("=dev-libs/libmarkup-3.0 -doc");
        awaiting.Status.CompletedSteps.ShouldBe(["freetype-without-harfbuzz"]);
        awaiting.Status.CurrentStep.ShouldBe("harfbuzz");

        await Requests.AnnotateAsync(bootstraps, ns, "plasma", new Dictionary<string, string> { [RequestAnnotations.Resume] = "fixed-by-hand" });

        var ready = await WaitForAsync(ns, b => b.Status.Phase == BootstrapPhase.Ready, "the resumed bootstrap to be ready");
        ready.Status.AttemptCount.ShouldBe(2);
        ready.Status.LastHandledResume.ShouldBe("fixed-by-hand");
        (await PlanStepsAsync(ns)).ShouldBe(["harfbuzz"], "the step that completed is not run again");
    }

    [PodDrivingFact]
    public async Task With_auto_break_cycles_the_proposed_use_change_runs_once_as_its_own_step_before_the_failed_one()
    {
        await using var session = await LifecycleSession.StartAsync(cluster,
            pod => pod.EndsWith("-1", StringComparison.Ordinal) ? new PodScript(10, Cycle) : new PodScript(0, Success), Controllers.AddBootstraps);
        var ns = session.Namespace;
        await bootstraps.CreateAsync(Plasma(ns, autoBreakCycles: true), CancellationToken.None);

        var ready = await WaitForAsync(ns, b => b.Status.Phase == BootstrapPhase.Ready, "the bootstrap to break the cycle and be ready");
        var applied = ready.Status.AppliedCycleBreaks.ShouldHaveSingleItem();
        applied.UseChange.ShouldBe("=dev-libs/libmarkup-3.0 -doc");
        applied.Before.ShouldBe("harfbuzz");
        applied.Cycle.ShouldBe("app-text/docgen-1.4 -> dev-libs/libmarkup-3.0");
        (await PlanStepsAsync(ns)).ShouldBe([applied.Step!, "harfbuzz"]);
        ready.Status.CompletedSteps.ShouldBe(["freetype-without-harfbuzz", applied.Step!, "harfbuzz"]);
    }

    [PodDrivingFact]
    public async Task The_same_cycle_after_its_break_was_tried_goes_to_a_person_instead_of_looping()
    {
        await using var session = await LifecycleSession.StartAsync(cluster, _ => new PodScript(10, Cycle), Controllers.AddBootstraps);
        var ns = session.Namespace;
        await bootstraps.CreateAsync(Plasma(ns, autoBreakCycles: true), CancellationToken.None);

        var awaiting = await WaitForAsync(ns, b => b.Status.Phase == BootstrapPhase.AwaitingOperator, "the bootstrap to give up breaking the cycle");
        awaiting.Status.AttemptCount.ShouldBe(2);
        awaiting.Status.AppliedCycleBreaks.ShouldHaveSingleItem();
        Conditions.Find(awaiting.Status.Conditions, ConditionTypes.AwaitingOperator)!.Message.ShouldContain("still there");
    }

    [PodDrivingFact]
    public async Task A_spec_change_runs_only_the_steps_it_changed_and_the_check()
    {
        await using var session = await LifecycleSession.StartAsync(cluster, _ => new PodScript(0, Success), Controllers.AddBootstraps);
        var ns = session.Namespace;
        await bootstraps.CreateAsync(Plasma(ns), CancellationToken.None);
        var ready = await WaitForAsync(ns, b => b.Status.Phase == BootstrapPhase.Ready, "the bootstrap to be ready");

        var steps = ready.Spec.BootstrapSteps!;
        steps.Add(new BootstrapStep { Name = "qt", Atoms = ["dev-qt/qtbase"] });
        steps[1].Use = ["-icu"];
        var changed = await bootstraps.PatchAsync(ns, "plasma", TestPatches.Merge(new { spec = new { bootstrapSteps = steps } }), CancellationToken.None);

        var again = await WaitForAsync(ns, b => b.Status.ObservedGeneration == changed.Metadata.Generation && b.Status.Phase == BootstrapPhase.Ready, "the changed bootstrap to be ready");
        again.Status.AttemptCount.ShouldBe(2);
        (await PlanStepsAsync(ns)).ShouldBe(["harfbuzz", "qt"]);
    }

    [PodDrivingFact]
    public async Task Missing_configuration_sources_keep_the_bootstrap_pending_naming_the_field_until_they_exist()
    {
        await using var session = await LifecycleSession.StartAsync(cluster, _ => null, Controllers.AddBootstraps);
        var ns = session.Namespace;
        var plasma = Plasma(ns);
        plasma.Spec.ConfigFrom =
        [
            new ConfigSource { ConfigMapRef = new LocalReference { Name = "portage-extra" } },
            new ConfigSource { Git = new GitConfigSource { Url = "https://git.example.org/portage.git", SecretRef = new LocalReference { Name = "portage-git" } } },
        ];
        await bootstraps.CreateAsync(plasma, CancellationToken.None);

        async Task<V1Condition> NotReadyAsync(string message)
        {
            var pending = await WaitForAsync(ns, b => Conditions.Find(b.Status.Conditions, ConditionTypes.Ready)?.Message == message, message);
            pending.Status.Phase.ShouldBe(BootstrapPhase.Pending);
            (await cluster.Kube.CoreV1.ListNamespacedPodAsync(ns)).Items.ShouldBeEmpty("nothing runs on a configuration that is not all there");
            return Conditions.Find(pending.Status.Conditions, ConditionTypes.Ready)!;
        }

        var ready = await NotReadyAsync($"spec.configFrom[0].configMapRef: ConfigMap portage-extra does not exist in {ns}");
        ready.Status.ShouldBe("False");
        ready.Reason.ShouldBe(PortageConfigSources.ConfigNotFound);

        await cluster.Kube.CoreV1.CreateNamespacedConfigMapAsync(
            new V1ConfigMap { Metadata = new V1ObjectMeta { Name = "portage-extra" }, Data = new Dictionary<string, string> { ["package.use"] = "media-libs/mesa vulkan\n" } }, ns);
        await NotReadyAsync($"spec.configFrom[1].git.secretRef: Secret portage-git does not exist in {ns}");

        var secret = await cluster.Kube.CoreV1.CreateNamespacedSecretAsync(
            new V1Secret { Metadata = new V1ObjectMeta { Name = "portage-git" }, StringData = new Dictionary<string, string> { ["username"] = "builder" } }, ns);
        await NotReadyAsync("spec.configFrom[1].git.secretRef: Secret portage-git needs username and password (or a token as the password) for https://git.example.org/portage.git");

        secret.StringData = new Dictionary<string, string> { ["username"] = "builder", ["password"] = "token" };
        await cluster.Kube.CoreV1.ReplaceNamespacedSecretAsync(secret, "portage-git", ns);
        await WaitForAsync(ns, b => b.Status.Phase == BootstrapPhase.Bootstrapping, "the bootstrap to start once its configuration is all there");
        var pod = await cluster.Kube.CoreV1.ReadNamespacedPodAsync(DesiredBootstrap.PodName("plasma", 1), ns);
        pod.Spec.Volumes.Single(v => v.Secret is not null).Secret.SecretName.ShouldBe("portage-git");
        var config = await cluster.Kube.CoreV1.ReadNamespacedConfigMapAsync(DesiredBootstrap.ConfigMapName("plasma"), ns);
        config.Data["package.use"].ShouldBe("media-libs/mesa vulkan\n");
    }

    [PodDrivingFact]
    public async Task An_operator_restart_while_the_bootstrap_pod_runs_starts_no_second_pod()
    {
        PodScript? outcome = null;
        await using var session = await LifecycleSession.StartAsync(cluster, _ => outcome, Controllers.AddBootstraps);
        var ns = session.Namespace;
        await bootstraps.CreateAsync(Plasma(ns), CancellationToken.None);
        await WaitForAsync(ns, b => b.Status.Phase == BootstrapPhase.Bootstrapping && b.Status.AttemptCount == 1, "the bootstrap pod to start");
        await Eventually.GetAsync(() => cluster.Kube.CoreV1.ReadNamespacedPodAsync(DesiredBootstrap.PodName("plasma", 1), ns), p => p.Status?.Phase == "Running", "the pod to run");

        await session.StopControllersAsync();
        await session.StartControllersAsync();
        await Task.Delay(500);
        outcome = new PodScript(0, Success);
        await session.Pods.CompleteAsync(DesiredBootstrap.PodName("plasma", 1), 0, Success);

        var ready = await WaitForAsync(ns, b => b.Status.Phase == BootstrapPhase.Ready, "the bootstrap to be ready after the restart");
        ready.Status.AttemptCount.ShouldBe(1);
        (await cluster.Kube.CoreV1.ListNamespacedPodAsync(ns)).Items.Count.ShouldBe(1);
    }
}
