using System.Text.Json.Nodes;
using Gentoo.ApiServer.Schema;
using Gentoo.ApiServer.Yaml;

namespace Gentoo.Operator.Tests.Crds;

/// <summary>The committed CRDs of config/crd, compiled once, by kind.</summary>
internal static class CrdSchemas
{
    private static readonly Lazy<Dictionary<string, CustomResourceSchema>> ByKind = new(() =>
        Directory.GetFiles(Checkout.PathOf("config", "crd"), "*.yaml")
            .Select(file => CustomResourceSchema.FromDefinition(YamlJson.ReadSingle(File.ReadAllText(file))))
            .ToDictionary(schema => schema.Kind));

    public static CustomResourceSchema For(string kind) => ByKind.Value[kind];

    /// <summary>Admits a manifest as the API server would, with strict field validation (kubectl's default).</summary>
    public static Admission Admit(JsonObject manifest, JsonObject? stored = null)
    {
        var kind = manifest["kind"]!.GetValue<string>();
        var admission = For(kind).Admit(manifest, stored);
        var unknown = admission.UnknownFields.Select(f => new FieldError(f, "unknown field", null, "")).ToList();
        return admission with { Errors = [.. unknown, .. admission.Errors] };
    }
}
