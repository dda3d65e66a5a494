using System.Text.Json;
using Gentoo.Entities.V1Alpha1;
using Gentoo.Kubernetes.TestServer;
using Gentoo.Operator.Tests.Integration;
using Gentoo.Plugin;
using Gentoo.Runtime;
using k8s;
using k8s.Models;

namespace Gentoo.Operator.Tests.Plugin;

/// <summary>kubectl gentoo's output formats and the run verbs (build --wait and --follow, delete, retry, @latest, version).</summary>
[Collection(ClusterCollection.Name)]
public sealed class PluginVerbTests(TestCluster cluster)
{
    private const string Success = """{"step":"build","result":"success","outcome":"success","emergeExitCode":0,"packagesMerged":1}""";
    private readonly ResourceApi<BuildRun> runs = new(cluster.Kube);
    private readonly ResourceApi<GentooBuilder> builders = new(cluster.Kube);

    private Task<(int ExitCode, string Output, string Error)> RunAsync(string ns, params string[] args) => PluginInvocation.RunAsync(cluster, ns, args);

    private async Task<BuildRun> RunAsync(string ns, string name, DateTime created, BuildRunPhase phase)
    {
        await Task.Delay(created == default ? 0 : 1100); // creation timestamps have whole seconds: the newer run is a second newer
        var run = await runs.CreateAsync(new BuildRun
        {
            Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = ns },
            Spec = new BuildRunSpec { BuilderRef = new LocalReference { Name = "desktop" }, Packages = ["app-misc/" + name], KeepGoing = true },
        }, CancellationToken.None);
        run.Status = new BuildRunStatus { Phase = phase, Progress = new BuildProgress { CurrentPackage = "dev-libs/nss-3.99", Phase = "compile", Done = 3, Total = 10 } };
        return await runs.ReplaceStatusAsync(run, CancellationToken.None);
    }

    private async Task<string> NamespaceWithBuilderAsync()
    {
        var ns = await cluster.CreateNamespaceAsync();
        await builders.CreateAsync(new GentooBuilder
        {
            Metadata = new V1ObjectMeta { Name = "desktop", NamespaceProperty = ns },
            Spec = new GentooBuilderSpec { BootstrapRef = new LocalReference { Name = "stage3" } },
        }, CancellationToken.None);
        return ns;
    }

    [Fact]
    public async Task Status_prints_json_yaml_names_and_a_wide_table_and_refuses_an_unknown_format()
    {
        var ns = await NamespaceWithBuilderAsync();
        await RunAsync(ns, "vim", default, BuildRunPhase.Running);

        using (var json = JsonDocument.Parse((await RunAsync(ns, "status", "-o", "json")).Output))
        {
            json.RootElement.GetProperty("kind").GetString().ShouldBe("List");
            json.RootElement.GetProperty("items").EnumerateArray().Select(i => (i.GetProperty("kind").GetString(), i.GetProperty("metadata").GetProperty("name").GetString()))
                .ShouldBe([("GentooBuilder", "desktop"), ("BuildRun", "vim")]);
        }

        var yaml = KubernetesYaml.Deserialize<Dictionary<string, object>>((await RunAsync(ns, "status", "-o", "yaml")).Output);
        yaml["kind"].ShouldBe("List");
        (await RunAsync(ns, "status", "-o", "name")).Output.ShouldBe("gentoobuilder.gentoobuilder.io/desktop\nbuildrun.gentoobuilder.io/vim\n");
        var wide = (await RunAsync(ns, "status", "-o", "wide")).Output.Split('\n');
        wide[0].Split(' ', StringSplitOptions.RemoveEmptyEntries).ShouldBe(["NAMESPACE", "KIND", "NAME", "PHASE", "READY", "REASON", "AGE", "DETAIL", "MESSAGE"]);
        wide[2].ShouldContain("3/10 dev-libs/nss-3.99 compile");
        var (exit, _, error) = await RunAsync(ns, "status", "-o", "xml");
        exit.ShouldNotBe(0);
        error.ShouldContain("--output xml: expected one of wide, json, yaml, name");
    }

    [Fact]
    public async Task Latest_names_a_builders_newest_run_and_delete_and_retry_act_on_it()
    {
        var ns = await NamespaceWithBuilderAsync();
        await RunAsync(ns, "vim", default, BuildRunPhase.Failed);
        await RunAsync(ns, "emacs", DateTime.UtcNow, BuildRunPhase.Running);

        (await RunAsync(ns, "retry", "desktop@latest")).Error.ShouldBe("error: BuildRun emacs has not finished (phase Running)\n");
        (await RunAsync(ns, "stop", "desktop@latest")).Output.ShouldBe("buildrun.gentoobuilder.io/emacs stopping (kubectl gentoo status shows when it has)\n");
        (await runs.GetAsync(ns, "emacs", CancellationToken.None))!.Metadata.Annotations.ShouldContainKey(RequestAnnotations.Stop);
        (await RunAsync(ns, "stop", "vim")).Error.ShouldBe("error: BuildRun vim has already ended (phase Failed)\n");
        (await RunAsync(ns, "delete", "desktop@latest")).Output.ShouldBe("buildrun.gentoobuilder.io/emacs deleted\n");
        var (exit, output, error) = await RunAsync(ns, "retry", "desktop@latest");

        exit.ShouldBe(0, error);
        var retry = (await runs.ListAsync(ns, CancellationToken.None)).Items.Single(r => r.Name() != "vim" && r.Name() != "emacs");
        output.ShouldBe($"buildrun.gentoobuilder.io/{retry.Name()} created (a retry of vim)\n");
        retry.Spec.Packages.ShouldBe(["app-misc/vim"]);
        retry.Spec.KeepGoing.ShouldBe(true);
        retry.Metadata.Annotations[PluginCommand.RetryOfAnnotation].ShouldBe("vim");
        (await RunAsync(ns, "delete", "nobody@latest")).Error.ShouldBe($"error: gentoobuilders.gentoobuilder.io \"nobody\" not found in namespace {ns}\n");
    }

    [PodDrivingFact]
    public async Task Build_wait_prints_progress_until_the_run_ends_and_its_exit_code_says_how()
    {
        await using var session = await LifecycleSession.StartSimulatedAsync(cluster,
            _ => new Kubernetes.TestServer.PodScript(0, Success),
            Gentoo.Operator.Hosting.Controllers.AddBootstraps, Gentoo.Operator.Hosting.Controllers.AddBuilders, Gentoo.Operator.Hosting.Controllers.AddBuildRuns);
        var ns = session.Namespace;
        await new ResourceApi<GentooBootstrap>(cluster.Kube).CreateAsync(TestObjects.Stage3Bootstrap(ns), CancellationToken.None);
        await builders.CreateAsync(new GentooBuilder
        {
            Metadata = new V1ObjectMeta { Name = "desktop", NamespaceProperty = ns },
            Spec = new GentooBuilderSpec { BootstrapRef = new LocalReference { Name = "stage3" } },
        }, CancellationToken.None);
        await Eventually.GetAsync(async () => (await builders.GetAsync(ns, "desktop", CancellationToken.None))!,
            b => Conditions.IsTrue(b.Status.Conditions, ConditionTypes.Ready), "the builder to be ready");

        var (exit, output, error) = await RunAsync(ns, "build", "desktop", "app-misc/screen", "--wait", "--timeout", "1m");

        exit.ShouldBe(RunExitCodes.Succeeded, error);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        lines[0].ShouldMatch("^buildrun.gentoobuilder.io/desktop-[a-z0-9]+ created$");
        lines[^1].ShouldStartWith("Succeeded: ");

        (await RunAsync(ns, "build", "desktop", "app-misc/slow", "--wait", "--timeout", "0s")).ExitCode.ShouldBe(RunExitCodes.TimedOut);
        (await RunAsync(ns, "build", "desktop", "--wait", "--timeout", "soon")).Error.ShouldContain("--timeout soon: expected a duration such as 90s, 5m or 1h30m");
    }

    [Fact]
    public async Task Version_names_the_plugin_the_operators_image_and_the_served_crd_versions()
    {
        var ns = await cluster.CreateNamespaceAsync();

        var (exit, output, error) = await RunAsync(ns, "version");

        exit.ShouldBe(0, error);
        output.ShouldStartWith($"plugin:    {PluginCommand.PluginVersion}\n");
        output.ShouldContain("crd:       buildruns.gentoobuilder.io v1alpha1 (stored)\n");
        output.ShouldContain("operator:  ");
    }

    [Fact]
    public async Task Get_like_verbs_answer_json_and_yaml_too()
    {
        var ns = await NamespaceWithBuilderAsync();
        var builder = (await builders.GetAsync(ns, "desktop", CancellationToken.None))!;
        builder.Status = new GentooBuilderStatus { BinhostUrl = "http://desktop-binhost.builds.svc:80/", SigningKeyFingerprint = "ABCD" };
        await builders.ReplaceStatusAsync(builder, CancellationToken.None);
        var run = await RunAsync(ns, "vim", default, BuildRunPhase.AwaitingOperator);
        run.Status.Failure = new FailureInfo { Class = FailureClass.KeywordChangeRequired, Message = "keyword change required" };
        await runs.ReplaceStatusAsync(run, CancellationToken.None);

        using (var binhost = JsonDocument.Parse((await RunAsync(ns, "binhost", "desktop", "-o", "json")).Output))
        {
            binhost.RootElement.GetProperty("clientSetup").GetString().ShouldBe("http://desktop-binhost.builds.svc:80/client-setup.sh");
            binhost.RootElement.GetProperty("signingKeyFingerprint").GetString().ShouldBe("ABCD");
        }

        (await RunAsync(ns, "explain", "vim", "-o", "yaml")).Output.ShouldContain("class: KeywordChangeRequired");
        using var version = JsonDocument.Parse((await RunAsync(ns, "version", "-o", "json")).Output);
        version.RootElement.GetProperty("plugin").GetString().ShouldBe(PluginCommand.PluginVersion);
        version.RootElement.GetProperty("crds").GetProperty($"buildruns.{GroupVersion.Group}").GetString().ShouldBe("v1alpha1 (stored)");
    }

    [Fact]
    public void Every_verb_has_help_and_the_waiting_verbs_show_examples()
    {
        var root = PluginCommand.Create(TextWriter.Null, TextWriter.Null);
        root.Subcommands.Where(c => !c.Hidden).ShouldAllBe(c => c.Description!.Contains("\n\nExamples:\n  kubectl gentoo " + c.Name, StringComparison.Ordinal));
        root.Subcommands.Single(c => c.Name == "build").Description!.ShouldContain("Examples:\n  kubectl gentoo build desktop www-client/firefox --wait");
    }
}

/// <summary>kubectl gentoo check against the test cluster: on the in-process server everything but an operator and a StorageClass holds.</summary>
[Collection(ClusterCollection.Name)]
public sealed class PluginCheckTests(TestCluster cluster)
{
    [Fact]
    public async Task Check_says_what_holds_and_what_to_do_where_not_and_fails_when_something_does_not_hold()
    {
        var ns = await cluster.CreateNamespaceAsync();

        var (exit, output, error) = await PluginInvocation.RunAsync(cluster, ns, "check");

        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        lines.ShouldContain(l => l.StartsWith("✔ API server: Kubernetes v1.", StringComparison.Ordinal));
        lines.ShouldContain($"✔ CRD gentoobuilders.{GroupVersion.Group}: served at v1alpha1, current");
        // What this shared cluster has of an operator depends on other tests (a chart install's Deployment, a Lease):
        // only that the line is there is this test's to say.
        lines.ShouldContain(l => l.StartsWith("✗ operator: ", StringComparison.Ordinal) || l.StartsWith("✔ operator: ", StringComparison.Ordinal));
        lines.ShouldContain(l => l.Contains(" default StorageClass: ", StringComparison.Ordinal));
        lines.ShouldContain($"✔ your access: everything the verbs do in namespace {ns}");
        lines.ShouldContain(l => l.StartsWith("✔ Pod Security: ", StringComparison.Ordinal));
        var failed = lines.Count(l => l.StartsWith('✗'));
        lines[^1].ShouldBe(failed == 0 ? "all checks passed" : $"{failed} of 9 checks failed");
        exit.ShouldBe(failed == 0 ? 0 : 1, error);

        await cluster.Kube.CoreV1.PatchNamespaceAsync(TestPatches.Merge(new { metadata = new { labels = new Dictionary<string, string> { ["pod-security.kubernetes.io/enforce"] = "baseline" } } }), ns);
        (await PluginInvocation.RunAsync(cluster, ns, "check")).Output.ShouldContain($"✗ Pod Security: namespace {ns} enforces baseline, which refuses build pods (privileged): kubectl label namespace {ns} pod-security.kubernetes.io/enforce=privileged --overwrite");
    }
}
