using System.Text.Json.Nodes;

namespace Gentoo.ApiServer.Schema;

/// <summary>The outcome of admitting a custom resource: the stored form, or the errors the API server would answer.</summary>
public sealed record Admission(JsonObject Object, IReadOnlyList<FieldError> Errors, IReadOnlyList<string> UnknownFields)
{
    public bool Allowed => Errors.Count == 0;

    /// <summary>The message a 422 Invalid answer carries: Kind.group "name" is invalid: [errors].</summary>
    public string Message(string kind, string group)
    {
        var name = Object["metadata"]?["name"]?.GetValue<string>() ?? "";
        var causes = Errors.Select(e => e.ToString()).ToList();
        return $"{kind}.{group} \"{name}\" is invalid: " + (causes.Count == 1 ? causes[0] : "[" + string.Join(", ", causes) + "]");
    }
}

/// <summary>A CustomResourceDefinition's storage version schema, applied as the API server applies it on create and update.</summary>
public sealed class CustomResourceSchema
{
    private readonly StructuralSchema schema;

    private CustomResourceSchema(string group, string kind, string plural, string version, StructuralSchema schema, IReadOnlyList<Api.Tables.Column> printerColumns)
    {
        PrinterColumns = printerColumns;
        Group = group;
        Kind = kind;
        Plural = plural;
        Version = version;
        this.schema = schema;
    }

    public string Group { get; }

    public string Kind { get; }

    public string Plural { get; }

    public string Version { get; }

    /// <summary>The storage version's additionalPrinterColumns; Age when it names none, as the API server defaults them.</summary>
    public IReadOnlyList<Api.Tables.Column> PrinterColumns { get; }

    public static CustomResourceSchema FromDefinition(JsonNode crd)
    {
        var spec = crd["spec"] ?? throw new SchemaException(["spec: Required value"]);
        var version = spec["versions"]!.AsArray().Single(v => v!["storage"]?.GetValue<bool>() == true)!;
        var openApi = version["schema"]?["openAPIV3Schema"]?.AsObject()
            ?? throw new SchemaException(["spec.versions[*].schema.openAPIV3Schema: Required value"]);
        return new CustomResourceSchema(
            spec["group"]!.GetValue<string>(),
            spec["names"]!["kind"]!.GetValue<string>(),
            spec["names"]!["plural"]!.GetValue<string>(),
            version["name"]!.GetValue<string>(),
            StructuralSchema.Compile(openApi),
            version["additionalPrinterColumns"] is JsonArray { Count: > 0 } columns
                ? [.. columns.OfType<JsonObject>().Select(c => new Api.Tables.Column(
                    c["name"]?.GetValue<string>() ?? "", c["type"]?.GetValue<string>() ?? "string", c["jsonPath"]?.GetValue<string>() ?? "",
                    c["description"]?.GetValue<string>() ?? "", c["priority"] is JsonValue priority ? int.Parse(priority.ToJsonString(), System.Globalization.CultureInfo.InvariantCulture) : 0, c["format"]?.GetValue<string>()))]
                : [new Api.Tables.Column("Age", "date", ".metadata.creationTimestamp")]);
    }

    /// <summary>Prunes unknown fields, applies defaults and validates; <paramref name="old"/> is the stored object on update.</summary>
    public Admission Admit(JsonObject submitted, JsonObject? old = null)
    {
        var result = submitted.DeepClone().AsObject();
        var unknown = schema.Prune(result);
        schema.ApplyDefaults(result);
        var errors = schema.Validate(result, old);
        return new Admission(result, errors, unknown);
    }

    /// <summary>Validates a status update: the same schema, with the stored object as oldSelf.</summary>
    public IReadOnlyList<FieldError> Validate(JsonObject candidate, JsonObject? old) => schema.Validate(candidate, old);
}
