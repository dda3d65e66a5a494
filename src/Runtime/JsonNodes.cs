using System.Text.Json.Nodes;

namespace Gentoo.Runtime;

/// <summary>Pieces of request bodies built as JSON nodes: no type behind them needs a serialisation contract.</summary>
public static class JsonNodes
{
    /// <summary>A list of strings as a JSON array; null stays null, so a merge patch or digest leaves the field out.</summary>
    public static JsonArray? Strings(IEnumerable<string>? values) => values is null ? null : new([.. values.Select(v => (JsonNode)JsonValue.Create(v))]);
}
