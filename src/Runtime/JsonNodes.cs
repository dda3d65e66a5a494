using System.Text.Json.Nodes;
using k8s;

namespace Gentoo.Runtime;

/// <summary>Pieces of request bodies built as JSON nodes: no type behind them needs a serialisation contract.</summary>
public static class JsonNodes
{
    /// <summary>A list of strings as a JSON array; null stays null, so a merge patch or digest leaves the field out.</summary>
    public static JsonArray? Strings(IEnumerable<string>? values) => values is null ? null : new([.. values.Select(v => (JsonNode)JsonValue.Create(v))]);

    /// <summary>
    /// A time as the client spells every time it writes (RFC 3339). Boxed on the way: a DateTime would become a JsonNode and
    /// take the client's JsonNode overload, which has no contract for what it wraps.
    /// </summary>
    public static JsonNode? Time(DateTime time) => JsonNode.Parse(KubernetesJson.Serialize((object)time));
}
