using System.Text.Json.Nodes;
using Gentoo.ApiServer.Yaml;

namespace Gentoo.Operator.Tests.Samples;

/// <summary>The install manifests in config/manager and config/rbac agree with each other.</summary>
public sealed class ManifestTests
{
    private static JsonObject Read(params string[] path) =>
        YamlJson.ReadDocuments(File.ReadAllText(Checkout.PathOf(["config", .. path]))).Single().AsObject();

    [Fact]
    public void Build_pods_copy_the_agent_from_the_image_the_operator_runs()
    {
        var container = Read("manager", "deployment.yaml")["spec"]!["template"]!["spec"]!["containers"]!.AsArray().Single()!;
        var operatorImage = container["env"]!.AsArray().Single(e => e!["name"]!.GetValue<string>() == "OPERATOR_IMAGE")!["value"]!.GetValue<string>();

        operatorImage.ShouldBe(container["image"]!.GetValue<string>());
    }

    [Fact]
    public void The_operator_runs_as_the_service_account_its_role_is_bound_to()
    {
        var deployment = Read("manager", "deployment.yaml");
        var binding = Read("rbac", "role_binding.yaml");
        var account = Read("rbac", "service_account.yaml");
        var subject = binding["subjects"]!.AsArray().Single()!;

        var namespaceName = Read("manager", "namespace.yaml")["metadata"]!["name"]!.GetValue<string>();
        deployment["spec"]!["template"]!["spec"]!["serviceAccountName"]!.GetValue<string>().ShouldBe(account["metadata"]!["name"]!.GetValue<string>());
        subject["name"]!.GetValue<string>().ShouldBe(account["metadata"]!["name"]!.GetValue<string>());
        new[] { deployment, account }.Select(o => o["metadata"]!["namespace"]!.GetValue<string>()).ShouldAllBe(n => n == namespaceName);
        subject["namespace"]!.GetValue<string>().ShouldBe(namespaceName);
        binding["roleRef"]!["name"]!.GetValue<string>().ShouldBe(Read("rbac", "role.yaml")["metadata"]!["name"]!.GetValue<string>());
    }
}
