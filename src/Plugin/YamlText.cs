using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;

namespace Gentoo.Plugin;

/// <summary>
/// JSON written as YAML, as kubectl -o yaml writes an object: block mappings and lists in the JSON's order, a string
/// quoted where plain it would read back as something else (a number, a boolean, null, a time), several lines as a
/// literal block. Written from the JSON the client's contracts make, so both formats say the same and nothing is
/// reflected over (the plugin is compiled ahead of time).
/// </summary>
public static partial class YamlText
{
    public static string Of(JsonNode? value)
    {
        var text = new StringWriter();
        var emitter = new Emitter(text);
        emitter.Emit(new StreamStart());
        emitter.Emit(new DocumentStart(null, null, isImplicit: true));
        Write(emitter, value);
        emitter.Emit(new DocumentEnd(isImplicit: true));
        emitter.Emit(new StreamEnd());
        return text.ToString();
    }

    private static void Write(IEmitter emitter, JsonNode? node)
    {
        switch (node)
        {
            case JsonObject mapping:
                emitter.Emit(new MappingStart(null, null, isImplicit: true, MappingStyle.Block));
                foreach (var (key, value) in mapping)
                {
                    emitter.Emit(Text(key));
                    Write(emitter, value);
                }

                emitter.Emit(new MappingEnd());
                break;
            case JsonArray sequence:
                emitter.Emit(new SequenceStart(null, null, isImplicit: true, SequenceStyle.Block));
                foreach (var item in sequence)
                {
                    Write(emitter, item);
                }

                emitter.Emit(new SequenceEnd());
                break;
            case null:
                emitter.Emit(Plain("null"));
                break;
            default:
                emitter.Emit(node.GetValueKind() == JsonValueKind.String ? Text(node.GetValue<string>()) : Plain(node.ToJsonString()));
                break;
        }
    }

    private static Scalar Plain(string value) => new(null, null, value, ScalarStyle.Plain, isPlainImplicit: true, isQuotedImplicit: false);

    private static Scalar Text(string value) => new(null, null, value,
        value.Contains('\n') ? ScalarStyle.Literal : value.Length == 0 || ReadsAsOtherThanText().IsMatch(value) ? ScalarStyle.DoubleQuoted : ScalarStyle.Any,
        isPlainImplicit: true, isQuotedImplicit: true);

    // What YAML 1.1 (go-yaml's, so kubectl's) or 1.2 reads plain as null, a boolean, a number or a time.
    [GeneratedRegex(@"^(~|null|Null|NULL|[yY]|yes|Yes|YES|[nN]|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF|[-+]?(\.[0-9]+|[0-9][0-9_]*(\.[0-9_]*)?)([eE][-+]?[0-9]+)?|[-+]?\.(inf|Inf|INF)|\.(nan|NaN|NAN)|0x[0-9a-fA-F_]+|0o?[0-7_]+|0b[01_]+|[-+]?[0-9][0-9_]*(:[0-5]?[0-9])+(\.[0-9_]*)?|[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}([Tt ].*)?)$")]
    private static partial Regex ReadsAsOtherThanText();
}
