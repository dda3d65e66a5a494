using System.Text.Json.Nodes;
using Gentoo.ApiServer.Schema;
using Gentoo.ApiServer.Yaml;
using Gentoo.Operator.Cli;
using Gentoo.Crds;

namespace Gentoo.Operator.Tests.Crds;

public sealed class CrdGenerationTests
{
    public static TheoryData<string> CrdFiles() => new(CrdGenerator.EntityTypes.Select(CrdGenerator.FileName));

    [Theory]
    [MemberData(nameof(CrdFiles))]
    public void Committed_crd_matches_what_the_types_generate(string file)
    {
        var generated = GenerateCrdsCommand.Render(CrdGenerator.FromAssemblies()).Single(r => r.File == file).Yaml;
        var committed = File.ReadAllText(Checkout.PathOf("config", "crd", file));

        committed.ShouldBe(generated,
            $"config/crd/{file} is stale: run `dotnet run --project src/Operator -- generate-crds` and commit the result");
    }

    [Fact]
    public void Config_crd_holds_exactly_the_generated_files()
    {
        var files = Directory.GetFiles(Checkout.PathOf("config", "crd")).Select(Path.GetFileName).Order();

        files.ShouldBe(CrdGenerator.EntityTypes.Select(CrdGenerator.FileName).Order());
    }

    [Fact]
    public void Operator_embeds_the_committed_crds_for_install()
    {
        foreach (var (file, yaml) in CrdInstaller.EmbeddedManifests())
        {
            yaml.ShouldBe(File.ReadAllText(Checkout.PathOf("config", "crd", file)));
        }

        CrdInstaller.EmbeddedManifests().Keys.Order().ShouldBe(CrdGenerator.EntityTypes.Select(CrdGenerator.FileName).Order());
    }

    [Theory]
    [MemberData(nameof(CrdFiles))]
    public void Crd_schema_is_structural_and_its_cel_rules_compile_against_its_fields(string file)
    {
        var crd = YamlJson.ReadSingle(File.ReadAllText(Checkout.PathOf("config", "crd", file)));

        Should.NotThrow(() => CustomResourceSchema.FromDefinition(crd));
    }

    [Theory]
    [MemberData(nameof(CrdFiles))]
    public void Every_field_has_a_description_for_kubectl_explain(string file)
    {
        var crd = YamlJson.ReadSingle(File.ReadAllText(Checkout.PathOf("config", "crd", file)));
        var schema = crd["spec"]!["versions"]![0]!["schema"]!["openAPIV3Schema"]!.AsObject();

        var undocumented = new List<string>();
        CollectUndocumented(schema, "", undocumented);

        undocumented.ShouldBeEmpty();
    }

    [Theory]
    [MemberData(nameof(CrdFiles))]
    public void Crd_is_namespaced_with_status_subresource_category_and_short_names(string file)
    {
        var crd = YamlJson.ReadSingle(File.ReadAllText(Checkout.PathOf("config", "crd", file)));
        var spec = crd["spec"]!;

        spec["scope"]!.GetValue<string>().ShouldBe("Namespaced");
        spec["group"]!.GetValue<string>().ShouldBe("gentoobuilder.io");
        spec["names"]!["categories"]!.AsArray().Select(c => c!.GetValue<string>()).ShouldBe(["gentoo"]);
        spec["names"]!["shortNames"]!.AsArray().ShouldNotBeEmpty();
        var version = spec["versions"]!.AsArray().Single()!;
        version["name"]!.GetValue<string>().ShouldBe("v1alpha1");
        version["subresources"]!["status"].ShouldNotBeNull();
        var columns = version["additionalPrinterColumns"]!.AsArray().Select(c => c!["name"]!.GetValue<string>()).ToList();
        columns.ShouldContain("Phase");
        columns.ShouldContain("Ready");
        columns.ShouldContain("Reason");
        columns.ShouldContain("Age");
        columns[^1].ShouldBe("Message", "what the Ready condition says, last as Flux shows it");
    }

    [Fact]
    public void Buildrun_columns_show_builder_packages_and_duration()
    {
        var crd = YamlJson.ReadSingle(File.ReadAllText(Checkout.PathOf("config", "crd", "gentoobuilder.io_buildruns.yaml")));
        var columns = crd["spec"]!["versions"]![0]!["additionalPrinterColumns"]!.AsArray()
            .ToDictionary(c => c!["name"]!.GetValue<string>(), c => c!["jsonPath"]!.GetValue<string>());

        columns["Builder"].ShouldBe(".spec.builderRef.name");
        columns["Built"].ShouldBe(".status.packages.built");
        columns["Reused"].ShouldBe(".status.packages.reused");
        columns["Duration"].ShouldBe(".status.duration");
        columns["Done"].ShouldBe(".status.progress.done");
        columns["Total"].ShouldBe(".status.progress.total");
    }

    [Fact]
    public void Builder_and_bootstrap_columns_show_the_binhost_the_published_release_and_the_current_step()
    {
        Dictionary<string, string> Columns(string file) => YamlJson.ReadSingle(File.ReadAllText(Checkout.PathOf("config", "crd", file)))["spec"]!["versions"]![0]!["additionalPrinterColumns"]!
            .AsArray().ToDictionary(c => c!["name"]!.GetValue<string>(), c => c!["jsonPath"]!.GetValue<string>());

        var builder = Columns("gentoobuilder.io_gentoobuilders.yaml");
        builder["Binhost"].ShouldBe(".status.binhostUrl");
        builder["Current"].ShouldBe(".status.currentBuildRun");
        builder["Published"].ShouldBe(".status.releases.published");
        Columns("gentoobuilder.io_gentoobootstraps.yaml")["Step"].ShouldBe(".status.currentStep");
    }

    [Fact]
    public void Cel_rules_use_nothing_newer_than_kubernetes_1_26()
    {
        foreach (var file in CrdGenerator.EntityTypes.Select(CrdGenerator.FileName))
        {
            var yaml = File.ReadAllText(Checkout.PathOf("config", "crd", file));
            yaml.ShouldNotContain("messageExpression");
            yaml.ShouldNotContain("fieldPath:");
            yaml.ShouldNotContain("reason: Field");
        }
    }

    private static void CollectUndocumented(JsonObject schema, string path, List<string> undocumented)
    {
        if (schema["properties"] is JsonObject properties)
        {
            foreach (var (name, child) in properties)
            {
                var childPath = path.Length == 0 ? name : path + "." + name;
                // Root metadata may carry nothing but its type; the API server documents it as ObjectMeta.
                if (child!["description"] is null && childPath != "metadata")
                {
                    undocumented.Add(childPath);
                }

                CollectUndocumented(child.AsObject(), childPath, undocumented);
            }
        }

        if (schema["items"] is JsonObject items)
        {
            CollectUndocumented(items, path + "[]", undocumented);
        }

        if (schema["additionalProperties"] is JsonObject values)
        {
            CollectUndocumented(values, path + "{}", undocumented);
        }
    }
}
