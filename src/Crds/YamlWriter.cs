using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Gentoo.Crds;

/// <summary>
/// Writes a JSON tree as block-style YAML, deterministically: keys in their given order, strings plain where
/// YAML reads them back as the same string, double-quoted (JSON escapes are valid YAML) everywhere else.
/// </summary>
public static partial class YamlWriter
{
    private static readonly JsonSerializerOptions QuotedString = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static string Write(JsonNode node)
    {
        var builder = new StringBuilder();
        WriteBlock(builder, node, 0);
        return builder.ToString();
    }

    private static void WriteBlock(StringBuilder builder, JsonNode? node, int indent)
    {
        switch (node)
        {
            case JsonObject map when map.Count > 0:
                foreach (var (key, value) in map)
                {
                    builder.Append(' ', indent).Append(Scalar(key)).Append(':');
                    WriteValue(builder, value, indent + 2, asSequenceItem: false);
                }

                break;
            case JsonArray list when list.Count > 0:
                foreach (var item in list)
                {
                    builder.Append(' ', indent).Append('-');
                    WriteValue(builder, item, indent + 2, asSequenceItem: true);
                }

                break;
            default:
                builder.Append(' ', indent).Append(Inline(node)).Append('\n');
                break;
        }
    }

    private static void WriteValue(StringBuilder builder, JsonNode? value, int indent, bool asSequenceItem)
    {
        switch (value)
        {
            case JsonObject map when map.Count > 0 && asSequenceItem:
                // "- key: value" keeps the first key on the dash's line, the rest aligned under it.
                builder.Append(' ');
                var nested = new StringBuilder();
                WriteBlock(nested, map, indent);
                builder.Append(nested.ToString(indent, nested.Length - indent));
                break;
            case JsonObject { Count: > 0 } or JsonArray { Count: > 0 }:
                builder.Append('\n');
                // Sequences under a key sit at the key's own indentation, as kubectl prints them.
                WriteBlock(builder, value, value is JsonArray && !asSequenceItem ? indent - 2 : indent);
                break;
            default:
                builder.Append(' ').Append(Inline(value)).Append('\n');
                break;
        }
    }

    private static string Inline(JsonNode? node) => node switch
    {
        null => "null",
        JsonObject => "{}",
        JsonArray => "[]",
        JsonValue value when value.TryGetValue<string>(out var text) => Scalar(text),
        JsonValue value when value.TryGetValue<bool>(out var flag) => flag ? "true" : "false",
        _ => node.ToJsonString(),
    };

    private static string Scalar(string text) =>
        IsPlainSafe(text) ? text : JsonValue.Create(text).ToJsonString(QuotedString);

    /// <summary>A string YAML 1.1 and 1.2 both read back unchanged as a string when written plain.</summary>
    private static bool IsPlainSafe(string text) =>
        text.Length > 0
        && PlainText().IsMatch(text)
        && !Reserved().IsMatch(text)
        && !NumberLike().IsMatch(text)
        && !text.Contains(": ", StringComparison.Ordinal)
        && !text.Contains(" #", StringComparison.Ordinal)
        && !text.EndsWith(':');

    [GeneratedRegex("^[A-Za-z0-9_/.(][A-Za-z0-9 _/.,()'+:=-]*$")]
    private static partial Regex PlainText();

    [GeneratedRegex("^(?i:y|n|yes|no|on|off|true|false|null|~)$")]
    private static partial Regex Reserved();

    [GeneratedRegex("^[-+]?(\\.?[0-9]|0x|0o)[0-9a-fA-F_.:eExo+-]*$")]
    private static partial Regex NumberLike();
}
