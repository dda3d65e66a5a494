using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Gentoo.ApiServer.Api;

/// <summary>
/// Numbers of JSON nodes whatever CLR type backs them (parsed text, int, long, double): JsonValue.GetValue only
/// converts to the exact backing type, which differs between nodes parsed from requests and nodes built in code.
/// </summary>
internal static class JsonNumbers
{
    public static bool IsNumber(JsonNode? node) => node is JsonValue value && value.GetValueKind() == JsonValueKind.Number;

    public static bool TryInteger(JsonNode? node, out long integer)
    {
        integer = 0;
        return IsNumber(node) && long.TryParse(node!.ToJsonString(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out integer);
    }

    public static double Double(JsonNode node) => double.Parse(node.ToJsonString(), CultureInfo.InvariantCulture);

    public static long? Integer(JsonNode? node) => TryInteger(node, out var value) ? value : null;
}
