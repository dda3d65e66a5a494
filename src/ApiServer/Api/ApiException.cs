using System.Text.Json.Nodes;
using Gentoo.ApiServer.Schema;

namespace Gentoo.ApiServer.Api;

/// <summary>A failed request, answered with a Status body exactly as the API server shapes it.</summary>
public sealed class ApiException(int code, string reason, string message, JsonObject? details = null) : Exception(message)
{
    public int Code { get; } = code;

    public string Reason { get; } = reason;

    public JsonObject ToStatus() => new()
    {
        ["kind"] = "Status",
        ["apiVersion"] = "v1",
        ["metadata"] = new JsonObject(),
        ["status"] = "Failure",
        ["message"] = Message,
        ["reason"] = Reason,
        ["details"] = details?.DeepClone(),
        ["code"] = Code,
    };

    private static JsonObject Details(ResourceType type, string name) => new()
    {
        ["name"] = name,
        ["group"] = type.Group,
        ["kind"] = type.Plural,
    };

    public static ApiException NotFound(ResourceType type, string name) =>
        new(404, "NotFound", $"{type.QualifiedName} \"{name}\" not found", Details(type, name));

    public static ApiException AlreadyExists(ResourceType type, string name) =>
        new(409, "AlreadyExists", $"{type.QualifiedName} \"{name}\" already exists", Details(type, name));

    public static ApiException Conflict(ResourceType type, string name) =>
        new(409, "Conflict",
            $"Operation cannot be fulfilled on {type.QualifiedName} \"{name}\": the object has been modified; please apply your changes to the latest version and try again",
            Details(type, name));

    public static ApiException Invalid(ResourceType type, string name, IReadOnlyList<FieldError> errors)
    {
        var details = Details(type, name);
        details["kind"] = type.Kind;
        details["causes"] = new JsonArray(errors.Select(e => (JsonNode)new JsonObject
        {
            ["reason"] = "Field" + e.Kind.Replace(" ", "", StringComparison.Ordinal),
            ["message"] = e.ToString()[(e.Field.Length + 2)..],
            ["field"] = e.Field,
        }).ToArray());
        var causes = errors.Select(e => e.ToString()).ToList();
        var text = causes.Count == 1 ? causes[0] : "[" + string.Join(", ", causes) + "]";
        var kind = type.Group.Length == 0 ? type.Kind : $"{type.Kind}.{type.Group}";
        return new ApiException(422, "Invalid", $"{kind} \"{name}\" is invalid: {text}", details);
    }

    public static ApiException BadRequest(string message) => new(400, "BadRequest", message);

    public static ApiException MethodNotAllowed(string message) => new(405, "MethodNotAllowed", message);

    public static ApiException Gone(string message) => new(410, "Expired", message);

    public static ApiException UnsupportedMediaType(string contentType) =>
        new(415, "UnsupportedMediaType", $"the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml; got {contentType}");
}
