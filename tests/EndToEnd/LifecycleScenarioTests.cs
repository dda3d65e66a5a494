using Gentoo.Entities.V1Alpha1;
using Gentoo.Runtime;
using k8s;
using k8s.Models;

namespace Gentoo.EndToEnd;

/// <summary>
/// The lifecycle a reviewer ran by hand on a real cluster, as tests: bootstrap from a stage3 holding the demo repository
/// (tests/Fixtures/portage/ebuild-repo), a builder named like its bootstrap (as the samples are), a successful build
/// served by the binhost, a keyword failure awaiting a person and resumed with the proposed fix accepted, operator
/// kills mid-build, and a deleted builder whose packages survive into its successor. Each step makes what it needs
/// if an earlier one has not, so any one of them runs alone; in a full run they follow one another by name.
/// </summary>
[Collection(EndToEndCollection.Name)]
[TestCaseOrderer("Gentoo.EndToEnd.ByName", "Gentoo.EndToEnd.Tests")]
public sealed class LifecycleScenarioTests(EndToEndCluster cluster)
{
    private const string Name = "e2e";
    private static readonly TimeSpan Bootstrapping = TimeSpan.FromMinutes(30);
    private static readonly TimeSpan Building = TimeSpan.FromMinutes(15);

    private ResourceApi<GentooBootstrap> Bootstraps => new(cluster.Kube);

    private ResourceApi<GentooBuilder> Builders => new(cluster.Kube);

    private ResourceApi<BuildRun> Runs => new(cluster.Kube);

    private string Ns => cluster.Namespace;

    [EndToEndFact]
    public async Task Step1_A_bootstrap_of_the_stage3_with_the_demo_repository_becomes_ready()
    {
        var ready = await EnsureBootstrapAsync();

        ready.Status.RootVolume.ShouldBe($"{Name}-bootstrap-root");
        ready.Status.Snapshot.ShouldNotBeNull().ReadyToUse.ShouldBe(true);
    }

    [EndToEndFact]
    public async Task Step2_A_builder_named_like_its_bootstrap_gets_its_own_volumes_and_a_binhost()
    {
        var ready = await EnsureBuilderAsync();

        ready.Status.Volumes!.Root.ShouldBe($"{Name}-root");
        ready.Status.BinhostUrl.ShouldNotBeNull();
        var claims = (await cluster.Kube.CoreV1.ListNamespacedPersistentVolumeClaimAsync(Ns)).Items.Select(c => c.Name()).ToList();
        claims.ShouldContain($"{Name}-bootstrap-root");
        claims.ShouldContain($"{Name}-root");
    }

    [EndToEndFact]
    public async Task Step3_A_build_succeeds_signs_its_packages_and_the_binhost_serves_them()
    {
        await EnsureBuiltAsync("greeter", "app-misc/greeter");

        var index = await BinhostAsync("Packages");
        index.ShouldContain("CPV: app-misc/greeter-1.0");
        index.ShouldContain("CPV: dev-libs/libgreet-2.1");
        (await BinhostAsync("signing-key.asc")).ShouldContain("BEGIN PGP PUBLIC KEY BLOCK");
    }

    [EndToEndFact]
    public async Task Step4_A_keyword_failure_awaits_a_person_and_resuming_with_the_fix_accepted_builds_it()
    {
        await EnsureBuilderAsync();
        await CreateRunAsync("nightly", "app-misc/nightly");

        var waiting = await WaitForRunAsync("nightly", r => r.Status.Phase is BuildRunPhase.AwaitingOperator or BuildRunPhase.Succeeded or BuildRunPhase.Failed or BuildRunPhase.Stalled, "the keyword failure to wait for a person");
        waiting.Status.Phase.ShouldBe(BuildRunPhase.AwaitingOperator);
        Conditions.Find(waiting.Status.Conditions, ConditionTypes.AwaitingOperator)!.Reason.ShouldBe(nameof(FailureClass.KeywordChangeRequired));
        var fix = waiting.Status.ProposedFixes.ShouldHaveSingleItem();
        fix.File.ShouldBe("package.accept_keywords");

        await Runs.PatchAsync(Ns, "nightly", new V1Patch(new
        {
            metadata = new { annotations = new Dictionary<string, string> { [RequestAnnotations.Resume] = "e2e-1", [RequestAnnotations.AcceptFixes] = "1" } },
        }, V1Patch.PatchType.MergePatch), CancellationToken.None);

        var built = await WaitForRunAsync("nightly", r => r.Status.Phase is BuildRunPhase.Succeeded or BuildRunPhase.Failed or BuildRunPhase.Stalled || r.Status.AttemptCount >= 3, "the resumed run to build");
        built.Status.Phase.ShouldBe(BuildRunPhase.Succeeded);
        built.Status.AppliedFixes.ShouldNotBeNull().ShouldContain(l => l.Contains("app-misc/nightly", StringComparison.Ordinal));
        (await cluster.Kube.CoreV1.ReadNamespacedConfigMapAsync($"{Name}-fixes", Ns)).Data.Values.ShouldContain(v => v.Contains("app-misc/nightly", StringComparison.Ordinal));
    }

    [EndToEndFact]
    public async Task Step5_Operator_kills_during_a_build_leave_one_pod_per_attempt_and_lose_nothing()
    {
        await EnsureBuilderAsync();
        await CreateRunAsync("slowpoke", "app-misc/slowpoke");
        await WaitForRunAsync("slowpoke", r => r.Status.Phase == BuildRunPhase.Running, "the slow build to run");

        for (var kill = 0; kill < 3; kill++)
        {
            cluster.KillOperator();
            await Task.Delay(TimeSpan.FromSeconds(3 + (kill * 2)));
            cluster.StartOperator();
            await Task.Delay(TimeSpan.FromSeconds(5));
        }

        var done = await WaitForRunAsync("slowpoke", r => r.Status.Phase is BuildRunPhase.Succeeded or BuildRunPhase.Failed or BuildRunPhase.AwaitingOperator or BuildRunPhase.Stalled, "the slow build to end");
        done.Status.Phase.ShouldBe(BuildRunPhase.Succeeded);
        done.Status.AttemptCount.ShouldBe(1, "killing the operator never starts a second attempt");
        var pods = (await cluster.Kube.CoreV1.ListNamespacedPodAsync(Ns, labelSelector: $"{GroupVersion.Group}/buildrun=slowpoke")).Items;
        pods.Count.ShouldBe(1);
    }

    [EndToEndFact]
    public async Task Step6_A_deleted_builders_packages_and_accepted_fixes_are_there_for_the_builder_made_after_it()
    {
        await EnsureBuiltAsync("greeter", "app-misc/greeter");

        await Builders.DeleteAsync(Ns, Name, CancellationToken.None);
        await cluster.WaitForAsync(async () => (await cluster.Kube.CoreV1.ListNamespacedPersistentVolumeClaimAsync(Ns)).Items.Select(c => c.Name()).ToList(),
            names => !names.Contains($"{Name}-root") && !names.Contains($"{Name}-distfiles"), "the deleted builder's root and source volumes to go", Building);
        var left = (await cluster.Kube.CoreV1.ListNamespacedPersistentVolumeClaimAsync(Ns)).Items.Select(c => c.Name()).ToList();
        left.ShouldContain($"{Name}-binpkgs");

        await EnsureBuilderAsync();
        (await BinhostAsync("Packages")).ShouldContain("CPV: app-misc/greeter-1.0", customMessage: "the packages outlived the builder");
    }

    private async Task<GentooBootstrap> EnsureBootstrapAsync()
    {
        if (await Bootstraps.GetAsync(Ns, Name, CancellationToken.None) is null)
        {
            await Bootstraps.CreateAsync(new GentooBootstrap
            {
                Metadata = new V1ObjectMeta { Name = Name, NamespaceProperty = Ns },
                Spec = new GentooBootstrapSpec
                {
                    Stage3 = new Stage3Source { Image = cluster.Settings.Stage3Image!, PullPolicy = PullPolicy.IfNotPresent },
                    Profile = "default",
                    Repositories = [new RepositorySpec { Name = "demo", SyncType = SyncType.None }],
                    Portage = new PortageConfig
                    {
                        MakeConf = new Dictionary<string, string> { ["FEATURES"] = "buildpkg binpkg-multi-instance", ["ACCEPT_LICENSE"] = "MIT" },
                    },
                    Storage = new BootstrapStorage { Size = "10Gi", StorageClassName = cluster.Settings.StorageClass },
                },
            }, CancellationToken.None);
        }

        return await cluster.WaitForAsync(() => Bootstraps.GetAsync(Ns, Name, CancellationToken.None),
            b => Conditions.IsTrue(b.Status.Conditions, ConditionTypes.Ready) || Conditions.IsTrue(b.Status.Conditions, ConditionTypes.Stalled) || b.Status.Phase == BootstrapPhase.AwaitingOperator,
            "the bootstrap to be ready", Bootstrapping) is var bootstrap && Conditions.IsTrue(bootstrap.Status.Conditions, ConditionTypes.Ready)
            ? bootstrap
            : throw new InvalidOperationException($"the bootstrap stopped: {KubernetesJson.Serialize(bootstrap.Status)}");
    }

    private async Task<GentooBuilder> EnsureBuilderAsync()
    {
        await EnsureBootstrapAsync();
        if (await Builders.GetAsync(Ns, Name, CancellationToken.None) is null)
        {
            var storage = cluster.Settings.StorageClass;
            await Builders.CreateAsync(new GentooBuilder
            {
                Metadata = new V1ObjectMeta { Name = Name, NamespaceProperty = Ns },
                Spec = new GentooBuilderSpec
                {
                    BootstrapRef = new LocalReference { Name = Name },
                    Storage = new BuilderStorage
                    {
                        Root = new RootVolumeSpec { Size = "10Gi", StorageClassName = storage },
                        Binpkgs = new BinpkgsVolumeSpec { Size = "2Gi", StorageClassName = storage },
                        Distfiles = new DistfilesVolumeSpec { Size = "1Gi", StorageClassName = storage },
                    },
                },
            }, CancellationToken.None);
        }

        return await cluster.WaitForAsync(() => Builders.GetAsync(Ns, Name, CancellationToken.None),
            b => Conditions.IsTrue(b.Status.Conditions, ConditionTypes.Ready) && b.Status.BinhostUrl is not null, "the builder to be ready", Bootstrapping);
    }

    private async Task EnsureBuiltAsync(string run, string package)
    {
        await EnsureBuilderAsync();
        if (await Runs.GetAsync(Ns, run, CancellationToken.None) is null)
        {
            await CreateRunAsync(run, package);
        }

        var done = await WaitForRunAsync(run, r => r.Status.Phase is BuildRunPhase.Succeeded or BuildRunPhase.Failed or BuildRunPhase.AwaitingOperator or BuildRunPhase.Stalled, $"BuildRun {run} to end");
        done.Status.Phase.ShouldBe(BuildRunPhase.Succeeded, KubernetesJson.Serialize(done.Status));
    }

    private Task<BuildRun> CreateRunAsync(string name, string package) => Runs.CreateAsync(new BuildRun
    {
        Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = Ns },
        Spec = new BuildRunSpec { BuilderRef = new LocalReference { Name = Name }, Packages = [package], Timeout = "30m" },
    }, CancellationToken.None);

    private Task<BuildRun> WaitForRunAsync(string name, Func<BuildRun, bool> done, string what) =>
        cluster.WaitForAsync(() => Runs.GetAsync(Ns, name, CancellationToken.None), done, what, Building);

    /// <summary>A file of the builder's binhost through the API server's service proxy: no port-forward, no ingress.</summary>
    private async Task<string> BinhostAsync(string path)
    {
        var service = $"{Name}-binhost";
        return await cluster.WaitForAsync(async () =>
        {
            try
            {
                await using var stream = await cluster.Kube.CoreV1.ConnectGetNamespacedServiceProxyWithPathAsync(service + ":80", Ns, path);
                using var reader = new StreamReader(stream);
                return await reader.ReadToEndAsync();
            }
            catch (k8s.Autorest.HttpOperationException)
            {
                return null; // the binhost pod is not serving yet
            }
        }, text => text.Length > 0, $"the binhost to serve /{path}", Building);
    }
}

/// <summary>Runs a class's steps in the order of their names (Step1_, Step2_, ...).</summary>
public sealed class ByName : Xunit.Sdk.ITestCaseOrderer
{
    public IEnumerable<TTestCase> OrderTestCases<TTestCase>(IEnumerable<TTestCase> testCases)
        where TTestCase : Xunit.Abstractions.ITestCase =>
        testCases.OrderBy(t => t.TestMethod.Method.Name, StringComparer.Ordinal);
}
