using System.Text.Json.Nodes;
using Gentoo.ApiServer.Schema;

namespace Gentoo.Kubernetes.TestServer.Tests;

public sealed class StructuralSchemaTests
{
    private static SchemaException Refused(string schemaJson) =>
        Should.Throw<SchemaException>(() => StructuralSchema.Compile(JsonNode.Parse(schemaJson)!.AsObject()));

    [Fact]
    public void Field_without_type_is_not_structural()
    {
        Refused("""{"type":"object","properties":{"spec":{"properties":{"a":{"type":"string"}}}}}""")
            .Problems.ShouldContain(p => p.StartsWith("spec.type: Required value"));
    }

    [Fact]
    public void Root_metadata_may_carry_only_its_type()
    {
        Refused("""{"type":"object","properties":{"metadata":{"type":"object","description":"meta"}}}""")
            .Problems.ShouldContain(p => p.StartsWith("properties[metadata]: Forbidden"));
    }

    [Fact]
    public void Rule_referring_to_an_undefined_field_is_refused()
    {
        Refused("""{"type":"object","properties":{"a":{"type":"string"}},"x-kubernetes-validations":[{"rule":"has(self.b)","message":"m"}]}""")
            .Problems.ShouldContain(p => p.Contains("undefined field 'b'"));
    }

    [Fact]
    public void Message_expression_is_refused_because_kubernetes_1_26_lacks_it()
    {
        Refused("""{"type":"object","properties":{"a":{"type":"string"}},"x-kubernetes-validations":[{"rule":"true","messageExpression":"'x'"}]}""")
            .Problems.ShouldContain(p => p.Contains("messageExpression"));
    }

    private static JsonObject WithPattern(string pattern) =>
        new() { ["type"] = "object", ["properties"] = new JsonObject { ["a"] = new JsonObject { ["type"] = "string", ["pattern"] = pattern } } };

    [Theory]
    [InlineData("^(?!test)[a-z]+$", "(?!")]
    [InlineData("^(?=a)a$", "(?=")]
    [InlineData("^(?<=a)b$", "(?<=")]
    [InlineData("^(a)\\1$", "\\1")]
    [InlineData("^(?>a+)$", "(?>")]
    public void Patterns_go_refuses_are_refused_though_dotnet_reads_them(string pattern, string construct)
    {
        Refused(WithPattern(pattern).ToJsonString())
            .Problems.ShouldContain(p => p.Contains($"invalid or unsupported Perl syntax: `{construct}`"));
    }

    [Theory]
    [InlineData("^[(?!]x$")]
    [InlineData("^[]a]\\\\1$")]
    [InlineData("^(?i:jan|feb)(?:x)?$")]
    public void Patterns_go_reads_are_accepted(string pattern)
    {
        Re2Pattern.Unsupported(pattern).ShouldBeNull();
        StructuralSchema.Compile(WithPattern(pattern));
    }

    [Fact]
    public void List_map_key_must_be_required_or_defaulted()
    {
        Refused("""
            {"type":"object","properties":{"l":{"type":"array","x-kubernetes-list-type":"map","x-kubernetes-list-map-keys":["name"],
             "items":{"type":"object","properties":{"name":{"type":"string"}}}}}}
            """).Problems.ShouldContain(p => p.Contains("all map keys must be required or have a default value"));
    }

    [Fact]
    public void Default_that_violates_its_own_schema_is_refused()
    {
        Refused("""{"type":"object","properties":{"a":{"type":"string","enum":["x"],"default":"y"}}}""")
            .Problems.ShouldContain(p => p.Contains("Unsupported value"));
    }

    [Fact]
    public void Pruning_removes_unknown_fields_but_keeps_preserved_ones()
    {
        var schema = StructuralSchema.Compile(JsonNode.Parse("""
            {"type":"object","properties":{"spec":{"type":"object","properties":{
              "a":{"type":"string"},
              "free":{"type":"object","x-kubernetes-preserve-unknown-fields":true}}}}}
            """)!.AsObject());
        var document = JsonNode.Parse("""{"spec":{"a":"x","b":1,"free":{"anything":true}},"extra":1}""")!;

        schema.Prune(document).ShouldBe(["spec.b", "extra"], ignoreOrder: true);
        document.ToJsonString().ShouldBe("""{"spec":{"a":"x","free":{"anything":true}}}""");
    }

    [Fact]
    public void Defaults_apply_to_nested_fields_of_a_defaulted_parent()
    {
        var schema = StructuralSchema.Compile(JsonNode.Parse("""
            {"type":"object","properties":{"spec":{"type":"object","default":{},"properties":{
              "policy":{"type":"string","default":"Retain"}}}}}
            """)!.AsObject());
        var document = JsonNode.Parse("{}")!;

        schema.ApplyDefaults(document);

        document.ToJsonString().ShouldBe("""{"spec":{"policy":"Retain"}}""");
    }
}
