using Gentoo.Entities.V1Alpha1;
using Gentoo.Kubernetes.TestServer;
using Gentoo.Operator.Desired;
using Gentoo.Operator.Hosting;
using Gentoo.Runtime;
using k8s;
using k8s.Models;

namespace Gentoo.Operator.Tests.Integration;

/// <summary>
/// What a real cluster showed: a builder named like its bootstrap shared its root volume, another's claim under a
/// builder's name was mounted, and a re-created builder hung on claims that finished build pods kept Terminating.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class BuilderVolumesTests(TestCluster cluster)
{
    private const string Success = """{"step":"build","result":"success","outcome":"success","emergeExitCode":0,"packagesMerged":1}""";

    private readonly ResourceApi<GentooBootstrap> bootstraps = new(cluster.Kube);
    private readonly ResourceApi<GentooBuilder> builders = new(cluster.Kube);
    private readonly ResourceApi<BuildRun> runs = new(cluster.Kube);

    private static GentooBootstrap Bootstrap(string ns, string name) => new()
    {
        Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = ns },
        Spec = new GentooBootstrapSpec
        {
            Stage3 = new Stage3Source { Image = "docker.io/gentoo/stage3:amd64-openrc" },
            Profile = "default/linux/amd64/23.0",
            Portage = new PortageConfig { PackageUse = ["sys-apps/fileinfo zlib"] },
        },
    };

    private static GentooBuilder Builder(string ns, string bootstrap) => new()
    {
        Metadata = new V1ObjectMeta { Name = "desktop", NamespaceProperty = ns },
        Spec = new GentooBuilderSpec { BootstrapRef = new LocalReference { Name = bootstrap } },
    };

    private Task<GentooBuilder> WaitForAsync(string ns, Func<GentooBuilder, bool> done, string what) =>
        Eventually.GetAsync(async () => (await builders.GetAsync(ns, "desktop", CancellationToken.None))!, done, what);

    private Task<LifecycleSession> StartAsync() =>
        LifecycleSession.StartAsync(cluster, _ => new PodScript(0, Success), Controllers.AddBootstraps, Controllers.AddBuilders, Controllers.AddBuildRuns);

    private static string? OwnerOf(V1ObjectMeta metadata) => metadata.OwnerReferences?.SingleOrDefault()?.Kind;

    [PodDrivingFact]
    public async Task A_builder_named_like_its_bootstrap_gets_volumes_and_configuration_of_its_own()
    {
        await using var session = await StartAsync();
        var ns = session.Namespace;
        await bootstraps.CreateAsync(Bootstrap(ns, "desktop"), CancellationToken.None);
        await builders.CreateAsync(Builder(ns, "desktop"), CancellationToken.None);

        var ready = await WaitForAsync(ns, b => Conditions.IsTrue(b.Status.Conditions, ConditionTypes.Ready), "the builder to be ready");

        var claims = (await cluster.Kube.CoreV1.ListNamespacedPersistentVolumeClaimAsync(ns)).Items.ToDictionary(c => c.Name());
        OwnerOf(claims["desktop-bootstrap-root"].Metadata).ShouldBe(GentooBootstrap.KubeKind);
        OwnerOf(claims[ready.Status.Volumes!.Root!].Metadata).ShouldBe(GentooBuilder.KubeKind);
        ready.Status.Volumes.Root.ShouldNotBe("desktop-bootstrap-root");
        var copy = await cluster.Kube.CoreV1.ReadNamespacedPodAsync(DesiredBuilderPods.CopyPodName("desktop"), ns);
        copy.Spec.Volumes.Select(v => v.PersistentVolumeClaim?.ClaimName).OfType<string>().ShouldBe(["desktop-bootstrap-root", "desktop-root"], ignoreOrder: true);
        var configMaps = (await cluster.Kube.CoreV1.ListNamespacedConfigMapAsync(ns)).Items.ToDictionary(c => c.Name());
        OwnerOf(configMaps[DesiredBootstrap.ConfigMapName("desktop")].Metadata).ShouldBe(GentooBootstrap.KubeKind);
        OwnerOf(configMaps[DesiredBuilderPods.ConfigMapName("desktop")].Metadata).ShouldBe(GentooBuilder.KubeKind);
    }

    [PodDrivingFact]
    public async Task A_bootstrap_made_before_the_names_parted_lets_go_of_the_configuration_name_its_builder_needs()
    {
        await using var session = await StartAsync();
        var ns = session.Namespace;
        var bootstrap = await bootstraps.CreateAsync(Bootstrap(ns, "desktop"), CancellationToken.None);
        // What an older operator made for this bootstrap, and a ConfigMap of a person's under the other old name.
        await cluster.Kube.CoreV1.CreateNamespacedConfigMapAsync(DesiredConfig.ConfigMap(bootstrap, "desktop-portage", new Dictionary<string, string> { ["world"] = "app-misc/old\n" }), ns);
        await cluster.Kube.CoreV1.CreateNamespacedConfigMapAsync(new V1ConfigMap { Metadata = new V1ObjectMeta { Name = "desktop-plan" }, Data = new Dictionary<string, string> { ["mine"] = "x" } }, ns);
        await builders.CreateAsync(Builder(ns, "desktop"), CancellationToken.None);

        var ready = await WaitForAsync(ns, b => Conditions.IsTrue(b.Status.Conditions, ConditionTypes.Ready) || Conditions.IsTrue(b.Status.Conditions, ConditionTypes.Stalled), "the builder to be ready");

        Conditions.IsTrue(ready.Status.Conditions, ConditionTypes.Ready).ShouldBeTrue(KubernetesJson.Serialize(ready.Status));
        var portage = await cluster.Kube.CoreV1.ReadNamespacedConfigMapAsync("desktop-portage", ns);
        OwnerOf(portage.Metadata).ShouldBe(GentooBuilder.KubeKind, "the builder's own configuration now has the name");
        (await cluster.Kube.CoreV1.ReadNamespacedConfigMapAsync("desktop-plan", ns)).Data["mine"].ShouldBe("x", "what is not the bootstrap's stays");
    }

    [PodDrivingFact]
    public async Task A_claim_of_anothers_under_a_builders_volume_name_stops_it_naming_the_claim_and_is_never_mounted()
    {
        await using var session = await StartAsync();
        var ns = session.Namespace;
        await cluster.Kube.CoreV1.CreateNamespacedPersistentVolumeClaimAsync(new V1PersistentVolumeClaim
        {
            Metadata = new V1ObjectMeta { Name = "desktop-distfiles" },
            Spec = new V1PersistentVolumeClaimSpec
            {
                AccessModes = ["ReadWriteOnce"],
                Resources = new V1VolumeResourceRequirements { Requests = new Dictionary<string, ResourceQuantity> { ["storage"] = new("1Gi") } },
            },
        }, ns);
        await bootstraps.CreateAsync(Bootstrap(ns, "stage3"), CancellationToken.None);
        await builders.CreateAsync(Builder(ns, "stage3"), CancellationToken.None);

        var stalled = await WaitForAsync(ns, b => Conditions.IsTrue(b.Status.Conditions, ConditionTypes.Stalled), "the builder to stop");

        var condition = Conditions.Find(stalled.Status.Conditions, ConditionTypes.Stalled)!;
        condition.Reason.ShouldBe(Reasons.NameConflict);
        condition.Message.ShouldContain("PersistentVolumeClaim desktop-distfiles already exists");
        Conditions.Find(stalled.Status.Conditions, ConditionTypes.Ready)!.Status.ShouldBe("False");
        (await cluster.Kube.CoreV1.ListNamespacedPodAsync(ns)).Items.ShouldNotContain(p => p.Spec.Volumes.Any(v => v.PersistentVolumeClaim != null && v.PersistentVolumeClaim.ClaimName == "desktop-distfiles"));

        await cluster.Kube.CoreV1.DeleteNamespacedPersistentVolumeClaimAsync("desktop-distfiles", ns);
        var ready = await WaitForAsync(ns, b => Conditions.IsTrue(b.Status.Conditions, ConditionTypes.Ready), "the builder to go on once the claim is moved away");
        Conditions.Find(ready.Status.Conditions, ConditionTypes.Stalled).ShouldBeNull();
    }

    [GarbageCollectorFact]
    public async Task A_re_created_builder_is_not_held_up_by_its_predecessors_finished_build_pods_and_keeps_the_accepted_fixes()
    {
        await using var session = await StartAsync();
        var ns = session.Namespace;
        await bootstraps.CreateAsync(Bootstrap(ns, "stage3"), CancellationToken.None);
        var first = await builders.CreateAsync(Builder(ns, "stage3"), CancellationToken.None);
        await WaitForAsync(ns, b => Conditions.IsTrue(b.Status.Conditions, ConditionTypes.Ready), "the builder to be ready");
        await CoreWrites.ApplyConfigMapAsync(cluster.Kube, DesiredBuilderPods.FixesConfigMap(first, new Dictionary<string, string> { ["package.use.fixes"] = "media-libs/mesa vulkan\n" }), first, CancellationToken.None);
        await runs.CreateAsync(new BuildRun
        {
            Metadata = new V1ObjectMeta { Name = "firefox", NamespaceProperty = ns },
            Spec = new BuildRunSpec { BuilderRef = new LocalReference { Name = "desktop" }, Packages = ["www-client/firefox"] },
        }, CancellationToken.None);
        await Eventually.GetAsync(async () => (await runs.GetAsync(ns, "firefox", CancellationToken.None))!, r => r.Status.Phase == BuildRunPhase.Succeeded, "the run to succeed");
        (await cluster.Kube.CoreV1.ListNamespacedPodAsync(ns)).Items.ShouldContain(p => p.Name() == "firefox-1" && p.Status.Phase == "Succeeded");

        await builders.DeleteAsync(ns, "desktop", CancellationToken.None);

        // pvc-protection keeps a claim while any pod names it, finished ones too: the run lets go of its pod.
        var left = await Eventually.GetAsync(async () => (await cluster.Kube.CoreV1.ListNamespacedPersistentVolumeClaimAsync(ns)).Items.Select(c => c.Name()).ToList(),
            names => !names.Contains("desktop-root") && !names.Contains("desktop-distfiles"), "the deleted builder's root and source volumes to go");
        left.ShouldContain("desktop-binpkgs");
        (await cluster.Kube.CoreV1.ListNamespacedPodAsync(ns)).Items.ShouldNotContain(p => p.Name() == "firefox-1");
        (await runs.GetAsync(ns, "firefox", CancellationToken.None))!.Status.Phase.ShouldBe(BuildRunPhase.Succeeded, "the run's record stays");

        await builders.CreateAsync(Builder(ns, "stage3"), CancellationToken.None);
        var again = await WaitForAsync(ns, b => Conditions.IsTrue(b.Status.Conditions, ConditionTypes.Ready), "the re-created builder to be ready");

        var fixes = await cluster.Kube.CoreV1.ReadNamespacedConfigMapAsync(DesiredBuilderPods.FixesConfigMapName("desktop"), ns);
        fixes.Data["package.use.fixes"].ShouldBe("media-libs/mesa vulkan\n", "accepted configuration outlives the builder as its packages do");
        var binpkgs = await cluster.Kube.CoreV1.ReadNamespacedPersistentVolumeClaimAsync("desktop-binpkgs", ns);
        binpkgs.Metadata.OwnerReferences.ShouldBeNull();
        again.Status.Volumes!.Binpkgs.ShouldBe("desktop-binpkgs");
    }
}
