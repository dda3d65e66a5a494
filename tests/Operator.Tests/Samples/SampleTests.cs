using System.Text.Json.Nodes;
using Gentoo.ApiServer.Yaml;
using Gentoo.Operator.Tests.Crds;

namespace Gentoo.Operator.Tests.Samples;

public sealed class SampleTests
{
    public static TheoryData<string> CustomResourceSamples() =>
        new(Directory.GetFiles(Checkout.PathOf("config", "samples"), "*.yaml")
            .Where(f => YamlJson.ReadDocuments(File.ReadAllText(f)).Any(d => d["apiVersion"]!.GetValue<string>().StartsWith("gentoobuilder.io/", StringComparison.Ordinal)))
            .Select(Path.GetFileName)
            .Order()!);

    [Theory]
    [MemberData(nameof(CustomResourceSamples))]
    public void Sample_is_accepted_by_the_generated_schema_and_its_cel_rules(string file)
    {
        foreach (var manifest in YamlJson.ReadDocuments(File.ReadAllText(Checkout.PathOf("config", "samples", file))))
        {
            var admission = CrdSchemas.Admit(manifest.AsObject());

            admission.Errors.Select(e => e.ToString()).ShouldBeEmpty();
        }
    }

    [Fact]
    public void Samples_cover_the_three_kinds()
    {
        var kinds = Directory.GetFiles(Checkout.PathOf("config", "samples"), "*.yaml")
            .SelectMany(f => YamlJson.ReadDocuments(File.ReadAllText(f)))
            .Select(d => d["kind"]!.GetValue<string>())
            .ToHashSet();

        kinds.IsSupersetOf(["GentooBootstrap", "GentooBuilder", "BuildRun"]).ShouldBeTrue(string.Join(", ", kinds));
    }

    [Fact]
    public void Bootstrap_sample_is_a_plasma_desktop_that_breaks_a_circular_dependency()
    {
        var bootstrap = Load("gentoobuilder_v1alpha1_gentoobootstrap.yaml");

        bootstrap["spec"]!["profile"]!.GetValue<string>().ShouldContain("desktop/plasma");
        var steps = bootstrap["spec"]!["bootstrapSteps"]!.AsArray();
        steps.ShouldContain(step => step!["use"] != null && step["use"]!.AsArray().Any(flag => flag!.GetValue<string>().StartsWith('-')));
    }

    [Fact]
    public void Builder_sample_builds_nightly_on_kernel_6_1_from_the_bootstrap()
    {
        var builder = Load("gentoobuilder_v1alpha1_gentoobuilder.yaml");

        builder["spec"]!["minKernel"]!.GetValue<string>().ShouldBe("6.1");
        builder["spec"]!["autoBuild"]!["schedule"]!.GetValue<string>().ShouldBe("0 2 * * *");
        builder["spec"]!["bootstrapRef"]!["name"]!.GetValue<string>()
            .ShouldBe(Load("gentoobuilder_v1alpha1_gentoobootstrap.yaml")["metadata"]!["name"]!.GetValue<string>());
    }

    [Fact]
    public void Buildrun_sample_builds_firefox_on_the_sample_builder()
    {
        var run = Load("gentoobuilder_v1alpha1_buildrun.yaml");

        run["spec"]!["packages"]!.AsArray().Select(p => p!.GetValue<string>()).ShouldBe(["www-client/firefox"]);
        run["spec"]!["builderRef"]!["name"]!.GetValue<string>()
            .ShouldBe(Load("gentoobuilder_v1alpha1_gentoobuilder.yaml")["metadata"]!["name"]!.GetValue<string>());
    }

    [Fact]
    public void Defaults_fill_a_minimal_buildrun_as_documented()
    {
        var admission = CrdSchemas.Admit(YamlJson.ReadSingle("""
            apiVersion: gentoobuilder.io/v1alpha1
            kind: BuildRun
            metadata: {name: minimal}
            spec:
              builderRef: {name: plasma-desktop}
            """).AsObject());

        admission.Errors.ShouldBeEmpty();
        var spec = admission.Object["spec"]!;
        spec["packages"]!.ToJsonString().ShouldBe("""["@world"]""");
        spec["emergeArgs"]!.ToJsonString().ShouldBe("""["--update","--deep","--newuse","--with-bdeps=y"]""");
        spec["onFailure"]!["policy"]!.GetValue<string>().ShouldBe("AwaitOperator");
        spec["keepGoing"]!.GetValue<bool>().ShouldBeFalse();
    }

    [Fact]
    public void Defaults_fill_a_minimal_builder_with_retained_binary_packages()
    {
        var admission = CrdSchemas.Admit(YamlJson.ReadSingle("""
            apiVersion: gentoobuilder.io/v1alpha1
            kind: GentooBuilder
            metadata: {name: minimal}
            spec:
              bootstrapRef: {name: plasma-desktop}
            """).AsObject());

        admission.Errors.ShouldBeEmpty();
        var spec = admission.Object["spec"]!;
        spec["storage"]!["binpkgs"]!["retainPolicy"]!.GetValue<string>().ShouldBe("Retain");
        spec["autounmask"]!.GetValue<string>().ShouldBe("Never");
        spec["keywordScope"]!.GetValue<string>().ShouldBe("Slot");
        spec["snapshots"]!["keep"]!.GetValue<long>().ShouldBe(3);
    }

    private static JsonNode Load(string file) =>
        YamlJson.ReadSingle(File.ReadAllText(Checkout.PathOf("config", "samples", file)));
}
