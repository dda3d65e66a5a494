using System.Globalization;
using System.Text.Json.Nodes;
using Gentoo.ApiServer.Api;

namespace Gentoo.ApiServer.Patch;

/// <summary>JSON patch (RFC 6902) with JSON pointers (RFC 6901): add, remove, replace, move, copy, test.</summary>
public static class JsonPatch
{
    public static JsonNode Apply(JsonNode target, JsonArray operations)
    {
        var document = target.DeepClone();
        foreach (var operation in operations.OfType<JsonObject>())
        {
            var op = operation["op"]?.GetValue<string>() ?? throw ApiException.BadRequest("json patch operation has no op");
            var path = operation["path"]?.GetValue<string>() ?? throw ApiException.BadRequest($"json patch {op} has no path");
            switch (op)
            {
                case "add":
                    Add(document, path, operation["value"]?.DeepClone());
                    break;
                case "remove":
                    Remove(document, path);
                    break;
                case "replace":
                    Remove(document, path);
                    Add(document, path, operation["value"]?.DeepClone());
                    break;
                case "move":
                    var moved = Get(document, From(operation));
                    Remove(document, From(operation));
                    Add(document, path, moved);
                    break;
                case "copy":
                    Add(document, path, Get(document, From(operation))?.DeepClone());
                    break;
                case "test":
                    if (!JsonNode.DeepEquals(Get(document, path), operation["value"]))
                    {
                        throw new ApiException(422, "Invalid", $"the test operation on {path} failed");
                    }

                    break;
                default:
                    throw ApiException.BadRequest($"unknown json patch operation {op}");
            }
        }

        return document;
    }

    private static string From(JsonObject operation) =>
        operation["from"]?.GetValue<string>() ?? throw ApiException.BadRequest("json patch move/copy has no from");

    private static string[] Tokens(string pointer) =>
        pointer.Length == 0 ? [] : pointer.TrimStart('/').Split('/').Select(t => t.Replace("~1", "/").Replace("~0", "~")).ToArray();

    private static JsonNode? Get(JsonNode document, string pointer)
    {
        JsonNode? current = document;
        foreach (var token in Tokens(pointer))
        {
            current = current switch
            {
                JsonObject map when map.TryGetPropertyValue(token, out var child) => child,
                JsonArray list when int.TryParse(token, CultureInfo.InvariantCulture, out var i) && i >= 0 && i < list.Count => list[i],
                _ => throw new ApiException(422, "Invalid", $"doc is missing path: {pointer}"),
            };
        }

        return current;
    }

    private static (JsonNode Parent, string Last) Parent(JsonNode document, string pointer)
    {
        var tokens = Tokens(pointer);
        if (tokens.Length == 0)
        {
            throw ApiException.BadRequest("json patch cannot replace the whole document");
        }

        var parent = tokens.Length == 1
            ? document
            : Get(document, "/" + string.Join('/', tokens[..^1].Select(t => t.Replace("~", "~0").Replace("/", "~1"))))
                ?? throw new ApiException(422, "Invalid", $"doc is missing path: {pointer}");
        return (parent, tokens[^1]);
    }

    private static void Add(JsonNode document, string pointer, JsonNode? value)
    {
        var (parent, last) = Parent(document, pointer);
        switch (parent)
        {
            case JsonObject map:
                map[last] = value;
                break;
            case JsonArray list when last == "-":
                list.Add(value);
                break;
            case JsonArray list when int.TryParse(last, CultureInfo.InvariantCulture, out var i) && i >= 0 && i <= list.Count:
                list.Insert(i, value);
                break;
            default:
                throw new ApiException(422, "Invalid", $"cannot add at {pointer}");
        }
    }

    private static void Remove(JsonNode document, string pointer)
    {
        var (parent, last) = Parent(document, pointer);
        switch (parent)
        {
            case JsonObject map when map.ContainsKey(last):
                map.Remove(last);
                break;
            case JsonArray list when int.TryParse(last, CultureInfo.InvariantCulture, out var i) && i >= 0 && i < list.Count:
                list.RemoveAt(i);
                break;
            default:
                throw new ApiException(422, "Invalid", $"doc is missing path: {pointer}");
        }
    }
}
