using System.Text.Json.Nodes;

namespace Gentoo.ApiServer.Api;

/// <summary>
/// The OpenAPI v3 documents kubectl reads before it sends an object: not the schemas (this server validates what it
/// stores itself), but each resource's operations with the <c>fieldValidation</c> parameter, so that kubectl leaves
/// validation to the server (<c>fieldValidation=Strict</c>) instead of validating on its side against OpenAPI v2, which
/// it reads only as protobuf.
/// </summary>
public static class OpenApi
{
    public static JsonObject Root(IEnumerable<ResourceType> types) => new()
    {
        ["paths"] = new JsonObject(types.Select(t => t.Group.Length == 0 ? $"api/{t.Version}" : $"apis/{t.Group}/{t.Version}").Distinct()
            .Select(path => KeyValuePair.Create(path, (JsonNode?)new JsonObject { ["serverRelativeURL"] = $"/openapi/v3/{path}" }))),
    };

    public static JsonObject GroupVersion(IEnumerable<ResourceType> types, string group, string version, string serverVersion)
    {
        var paths = new JsonObject();
        foreach (var type in types.Where(t => t.Group == group && t.Version == version))
        {
            var prefix = (group.Length == 0 ? $"/api/{version}" : $"/apis/{group}/{version}") + (type.Namespaced ? "/namespaces/{namespace}" : "");
            var kind = new JsonObject { ["group"] = group, ["version"] = version, ["kind"] = type.Kind };
            JsonObject Operation(string id) => new()
            {
                ["operationId"] = id + type.Kind,
                ["x-kubernetes-group-version-kind"] = kind.DeepClone(),
                ["parameters"] = new JsonArray(
                    new JsonObject { ["name"] = "fieldValidation", ["in"] = "query", ["schema"] = new JsonObject { ["type"] = "string", ["uniqueItems"] = true } },
                    new JsonObject { ["name"] = "fieldManager", ["in"] = "query", ["schema"] = new JsonObject { ["type"] = "string", ["uniqueItems"] = true } }),
                ["responses"] = new JsonObject { ["200"] = new JsonObject { ["description"] = "OK" } },
            };
            paths[$"{prefix}/{type.Plural}"] = new JsonObject { ["post"] = Operation("create") };
            paths[$"{prefix}/{type.Plural}/{{name}}"] = new JsonObject { ["patch"] = Operation("patch"), ["put"] = Operation("replace") };
        }

        return new JsonObject
        {
            ["openapi"] = "3.0.0",
            ["info"] = new JsonObject { ["title"] = "gentoo-builder embedded API server", ["version"] = serverVersion },
            ["paths"] = paths,
            ["components"] = new JsonObject { ["schemas"] = new JsonObject() },
        };
    }
}
