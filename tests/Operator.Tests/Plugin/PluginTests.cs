using Gentoo.Protocol;
using Gentoo.Entities.V1Alpha1;
using Gentoo.Runtime;
using Gentoo.Operator.Tests.Hosting;
using Gentoo.Operator.Tests.Integration;
using Gentoo.Plugin;
using k8s;
using k8s.Models;

namespace Gentoo.Operator.Tests.Plugin;

/// <summary>kubectl gentoo against the test cluster (any API server the tests run on), through a kubeconfig as kubectl would use it.</summary>
[Collection(ClusterCollection.Name)]
public sealed class PluginTests(TestCluster cluster)
{
    private readonly ResourceApi<BuildRun> runs = new(cluster.Kube);
    private readonly ResourceApi<GentooBuilder> builders = new(cluster.Kube);

    private Task<(int ExitCode, string Output, string Error)> RunAsync(string ns, params string[] args) => PluginInvocation.RunAsync(cluster, ns, args);

    /// <summary>The bootstrap "stage3" and the builder "desktop" made from it, once the running controllers made it ready.</summary>
    private async Task ReadyBuilderAsync(string ns)
    {
        await new ResourceApi<GentooBootstrap>(cluster.Kube).CreateAsync(Integration.TestObjects.Stage3Bootstrap(ns), CancellationToken.None);
        await builders.CreateAsync(new GentooBuilder
        {
            Metadata = new V1ObjectMeta { Name = "desktop", NamespaceProperty = ns },
            Spec = new GentooBuilderSpec { BootstrapRef = new LocalReference { Name = "stage3" } },
        }, CancellationToken.None);
        await Eventually.GetAsync(async () => (await builders.GetAsync(ns, "desktop", CancellationToken.None))!,
            b => Conditions.IsTrue(b.Status.Conditions, ConditionTypes.Ready), "the builder to be ready");
    }

    private async Task<BuildRun> RunWithStatusAsync(string ns, string name, BuildRunStatus status)
    {
        var run = await runs.CreateAsync(new BuildRun
        {
            Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = ns },
            Spec = new BuildRunSpec { BuilderRef = new LocalReference { Name = "desktop" }, Packages = ["app-misc/nightly"] },
        }, CancellationToken.None);
        run.Status = status;
        return await runs.ReplaceStatusAsync(run, CancellationToken.None);
    }

    private static BuildRunStatus Awaiting() => new()
    {
        Phase = BuildRunPhase.AwaitingOperator,
        Conditions = Conditions.MarkTrue(null, ConditionTypes.AwaitingOperator, "KeywordChangeRequired", "accept the keyword", 1, DateTime.UtcNow),
        ProposedFixes = [new ProposedFix { Number = 1, Class = FailureClass.KeywordChangeRequired, File = "package.accept_keywords", Lines = ["app-misc/nightly:0 ~amd64"] }],
        Failure = new FailureInfo { Class = FailureClass.KeywordChangeRequired, Atom = "app-misc/nightly-0.9", Message = "keyword change required", LogExcerpt = ["!!! All ebuilds that could satisfy"] },
        Attempts = [new BuildAttempt { Number = 1, Pod = "nightly-1" }],
    };

    [Fact]
    public async Task Status_shows_every_resource_with_phase_readiness_and_why_it_waits()
    {
        var ns = await cluster.CreateNamespaceAsync();
        await RunWithStatusAsync(ns, "nightly", Awaiting());

        var (exit, output, _) = await RunAsync(ns, "status");

        exit.ShouldBe(0);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        lines[0].ShouldStartWith("NAMESPACE");
        lines.ShouldContain(l => l.Contains("BuildRun") && l.Contains("nightly") && l.Contains("AwaitingOperator") && l.Contains("KeywordChangeRequired"));
    }

    [Fact]
    public async Task Resume_with_accepted_fixes_annotates_the_run_and_refuses_runs_not_awaiting_anyone()
    {
        var ns = await cluster.CreateNamespaceAsync();
        await RunWithStatusAsync(ns, "nightly", Awaiting());
        await RunWithStatusAsync(ns, "busy", new BuildRunStatus { Phase = BuildRunPhase.Running });

        (await RunAsync(ns, "resume", "busy")).ShouldBe((1, "", "error: BuildRun busy is not awaiting anyone (phase Running)\n"));
        var wrong = await RunAsync(ns, "resume", "nightly", "--accept", "7");
        wrong.Error.ShouldBe("error: --accept 7: 7 not among the proposed fixes of nightly (1); see kubectl gentoo explain nightly\n");
        (await RunAsync(ns, "resume", "missing")).Error.ShouldBe($"error: no BuildRun or GentooBootstrap \"missing\" in namespace {ns}\n");

        var (exit, output, _) = await RunAsync(ns, "resume", "nightly", "--accept", "1");
        exit.ShouldBe(0);
        output.ShouldBe("buildrun.gentoobuilder.io/nightly resumed\n");
        var annotations = (await runs.GetAsync(ns, "nightly", CancellationToken.None))!.Metadata.Annotations;
        annotations[RequestAnnotations.AcceptFixes].ShouldBe("1");
        annotations.ShouldContainKey(RequestAnnotations.Resume);
    }

    [Fact]
    public async Task Build_update_and_snapshot_act_on_an_existing_builder_and_name_a_missing_one()
    {
        var ns = await cluster.CreateNamespaceAsync();
        (await RunAsync(ns, "build", "desktop")).Error.ShouldBe($"error: gentoobuilders.gentoobuilder.io \"desktop\" not found in namespace {ns}\n");
        await builders.CreateAsync(new GentooBuilder
        {
            Metadata = new V1ObjectMeta { Name = "desktop", NamespaceProperty = ns },
            Spec = new GentooBuilderSpec { BootstrapRef = new LocalReference { Name = "stage3" } },
        }, CancellationToken.None);

        var (exit, output, _) = await RunAsync(ns, "build", "desktop", "www-client/firefox", "app-editors/neovim");
        exit.ShouldBe(0);
        var created = (await runs.ListAsync(ns, CancellationToken.None)).Items.ShouldHaveSingleItem();
        output.ShouldBe($"buildrun.gentoobuilder.io/{created.Name()} created\n");
        created.Name().ShouldStartWith("desktop-");
        created.Spec.Packages.ShouldBe(["www-client/firefox", "app-editors/neovim"]);

        (await RunAsync(ns, "update", "desktop")).ExitCode.ShouldBe(0);
        (await RunAsync(ns, "snapshot", "desktop")).Output.ShouldBe("gentoobuilder.gentoobuilder.io/desktop: snapshot requested\n");
        var annotations = (await builders.GetAsync(ns, "desktop", CancellationToken.None))!.Metadata.Annotations;
        annotations.Keys.ShouldBe([RequestAnnotations.Update, RequestAnnotations.Snapshot], ignoreOrder: true);
    }

    [TestServerFact("the kubelet simulator to show a running pod's log")]
    public async Task Update_with_wait_prints_its_stages_then_what_a_world_update_would_merge()
    {
        const string Success = """{"step":"build","result":"success","outcome":"success","emergeExitCode":0}""";
        const string Preview = """{"step":"update","result":"success","outcome":"success","emergeExitCode":0,"atoms":["dev-libs/nss-3.46","www-client/firefox-128.1.0"]}""";
        var stages = ProgressLines.Format(new AgentProgress(null, "sync", 0, 2)) + "\n>>> Syncing repository 'gentoo'\n"
            + ProgressLines.Format(new AgentProgress(null, "world update preview", 1, 2)) + "\n";
        await using var session = await LifecycleSession.StartSimulatedAsync(cluster,
            pod => pod.Contains("-update-", StringComparison.Ordinal)
                ? new Kubernetes.TestServer.PodScript(0, Preview, Delay: TimeSpan.FromSeconds(4), RunningLog: stages)
                : new Kubernetes.TestServer.PodScript(0, Success),
            Gentoo.Operator.Hosting.Controllers.AddBootstraps, Gentoo.Operator.Hosting.Controllers.AddBuilders);
        var ns = session.Namespace;
        await ReadyBuilderAsync(ns);

        var (exit, output, error) = await RunAsync(ns, "update", "desktop", "--wait", "--timeout", "60");

        exit.ShouldBe(0, error);
        output.ShouldStartWith("gentoobuilder.gentoobuilder.io/desktop: update requested\n");
        output.ShouldContain("Updating: 1/2 world update preview\n");
        output.ShouldEndWith("\nrepositories synced; a world update would merge 2 package(s): dev-libs/nss-3.46, www-client/firefox-128.1.0\n");
    }

    [Fact]
    public async Task Binhost_shows_where_clients_go_the_key_they_trust_and_how_to_ask_for_builds()
    {
        var ns = await cluster.CreateNamespaceAsync();
        var builder = await builders.CreateAsync(new GentooBuilder
        {
            Metadata = new V1ObjectMeta { Name = "desktop", NamespaceProperty = ns },
            Spec = new GentooBuilderSpec { BootstrapRef = new LocalReference { Name = "stage3" } },
        }, CancellationToken.None);
        (await RunAsync(ns, "binhost", "desktop")).Error.ShouldBe("error: GentooBuilder desktop has no binhost yet (phase none yet); see kubectl gentoo status\n");

        builder.Status = new GentooBuilderStatus
        {
            Phase = BuilderPhase.Ready,
            BinhostUrl = $"http://desktop-binhost.{ns}.svc:80/",
            SigningKeyFingerprint = "9E6B054A08F7B3D3749B3FFE8DE29A6307CC76B7",
            SigningKeyExpires = new DateTime(2028, 12, 1, 7, 0, 0, DateTimeKind.Utc),
            BuildRequestTokenSecret = "desktop-binhost-token",
        };
        await builders.ReplaceStatusAsync(builder, CancellationToken.None);
        var (exit, output, error) = await RunAsync(ns, "binhost", "desktop");

        exit.ShouldBe(0, error);
        output.ShouldBe(
            $"binhost:        http://desktop-binhost.{ns}.svc:80/\n"
            + "signing key:    9E6B054A08F7B3D3749B3FFE8DE29A6307CC76B7 (expires 2028-12-01; clients re-run client-setup.sh to learn a later date)\n"
            + $"client setup:   curl -fsS http://desktop-binhost.{ns}.svc:80/client-setup.sh | sh    # as root on the client\n"
            + $"build request:  curl -fsS -H \"Authorization: Bearer $(kubectl get secret -n {ns} desktop-binhost-token -o jsonpath='{{.data.token}}' | base64 -d)\" "
            + $"--data-binary 'CATEGORY/PACKAGE ...' http://desktop-binhost.{ns}.svc:80/build\n");
    }

    [TestServerFact("the kubelet simulator to exec into a pod")]
    public async Task Shell_gets_a_chroot_pod_on_the_builders_volumes_execs_into_it_and_stops_it_after()
    {
        const string Success = """{"step":"build","result":"success","outcome":"success","emergeExitCode":0}""";
        await using var session = await LifecycleSession.StartSimulatedAsync(cluster, pod => pod.Contains("-shell-", StringComparison.Ordinal) ? null : new Kubernetes.TestServer.PodScript(0, Success),
            Gentoo.Operator.Hosting.Controllers.AddBootstraps, Gentoo.Operator.Hosting.Controllers.AddBuilders);
        var ns = session.Namespace;
        await ReadyBuilderAsync(ns);
        var work = Directory.CreateTempSubdirectory("kubectl-stub-");
        var kubectl = Path.Combine(work.FullName, "kubectl");
        File.WriteAllText(kubectl, $"#!/bin/sh\necho \"$@\" > '{work.FullName}/args'\n");
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(kubectl, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }

        Environment.SetEnvironmentVariable("KUBECTL", kubectl);
        try
        {
            var (exit, output, error) = await RunAsync(ns, "shell", "desktop", "--timeout", "30");

            exit.ShouldBe(0, error);
            var args = File.ReadAllText(Path.Combine(work.FullName, "args")).Trim();
            args.ShouldContain($"exec -it -n {ns} desktop-shell-");
            args.ShouldEndWith("-c build -- env -u DOTNET_GCGen0MaxBudget -u DOTNET_GCgen0size chroot /mnt/gentoo /bin/bash --login",
                customMessage: "the agent's GC settings stay out of the person's shell");
            var pod = args.Split(' ').Single(a => a.StartsWith("desktop-shell-", StringComparison.Ordinal));
            output.ShouldContain($"shell pod {pod} stopped");
            var after = await Eventually.GetAsync(async () => (await builders.GetAsync(ns, "desktop", CancellationToken.None))!,
                b => b.Status.CurrentMaintenance is null, "the builder to be free again");
            after.Status.Phase.ShouldBe(BuilderPhase.Ready);
        }
        finally
        {
            Environment.SetEnvironmentVariable("KUBECTL", null);
            work.Delete(recursive: true);
        }
    }

    [TestServerFact("a pod log written into the in-process server")]
    public async Task Explain_shows_the_failure_the_numbered_fixes_and_the_excerpt_and_logs_show_the_attempts_log()
    {
        var ns = await cluster.CreateNamespaceAsync();
        await RunWithStatusAsync(ns, "nightly", Awaiting());
        await RunWithStatusAsync(ns, "fine", new BuildRunStatus { Phase = BuildRunPhase.Succeeded });

        var (_, output, _) = await RunAsync(ns, "explain", "nightly");
        output.ShouldContain("Failure:   KeywordChangeRequired of app-misc/nightly-0.9");
        output.ShouldContain("  1. package.accept_keywords: app-misc/nightly:0 ~amd64");
        output.ShouldContain("  !!! All ebuilds that could satisfy");
        (await RunAsync(ns, "explain", "fine")).Error.ShouldBe("error: BuildRun fine has no failure to explain (phase Succeeded)\n");

        await cluster.Kube.CoreV1.CreateNamespacedPodAsync(new V1Pod
        {
            Metadata = new V1ObjectMeta { Name = "nightly-1" },
            Spec = new V1PodSpec { Containers = [new V1Container { Name = "build", Image = "stage3" }] },
        }, ns);
        cluster.Server!.AppendPodLog(ns, "nightly-1", ">>> Emerging (1 of 1) app-misc/nightly-0.9::gentoo\n");
        (await RunAsync(ns, "logs", "nightly")).Output.ShouldBe(">>> Emerging (1 of 1) app-misc/nightly-0.9::gentoo\n");
    }
}
