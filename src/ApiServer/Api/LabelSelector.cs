using System.Text.Json.Nodes;

namespace Gentoo.ApiServer.Api;

/// <summary>A label selector in the query syntax: equality (=, ==, !=), set (in, notin) and existence (key, !key).</summary>
public sealed class LabelSelector
{
    private readonly List<Func<IReadOnlyDictionary<string, string>, bool>> requirements = [];

    public static LabelSelector Everything { get; } = new();

    public static LabelSelector Parse(string? text)
    {
        var selector = new LabelSelector();
        if (string.IsNullOrWhiteSpace(text))
        {
            return selector;
        }

        foreach (var part in SplitTopLevel(text))
        {
            var requirement = part.Trim();
            if (requirement.Length == 0)
            {
                continue;
            }

            selector.requirements.Add(ParseRequirement(requirement));
        }

        return selector;
    }

    public bool Matches(JsonNode? obj)
    {
        var labels = obj?["metadata"]?["labels"] is JsonObject map
            ? map.ToDictionary(p => p.Key, p => p.Value?.GetValue<string>() ?? "")
            : new Dictionary<string, string>();
        return requirements.All(r => r(labels));
    }

    private static Func<IReadOnlyDictionary<string, string>, bool> ParseRequirement(string text)
    {
        foreach (var (op, negate) in new[] { (" notin ", true), (" in ", false) })
        {
            var at = text.IndexOf(op, StringComparison.Ordinal);
            if (at > 0)
            {
                var key = text[..at].Trim();
                var values = text[(at + op.Length)..].Trim().TrimStart('(').TrimEnd(')')
                    .Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).ToHashSet();
                return labels => labels.TryGetValue(key, out var value) ? values.Contains(value) != negate : negate;
            }
        }

        if (text.Contains("!=", StringComparison.Ordinal))
        {
            var (key, value) = Split(text, "!=");
            return labels => !labels.TryGetValue(key, out var actual) || actual != value;
        }

        if (text.Contains("==", StringComparison.Ordinal))
        {
            var (key, value) = Split(text, "==");
            return labels => labels.TryGetValue(key, out var actual) && actual == value;
        }

        if (text.Contains('=', StringComparison.Ordinal))
        {
            var (key, value) = Split(text, "=");
            return labels => labels.TryGetValue(key, out var actual) && actual == value;
        }

        if (text.StartsWith('!'))
        {
            var key = text[1..].Trim();
            return labels => !labels.ContainsKey(key);
        }

        return labels => labels.ContainsKey(text);
    }

    private static (string Key, string Value) Split(string text, string op)
    {
        var at = text.IndexOf(op, StringComparison.Ordinal);
        return (text[..at].Trim(), text[(at + op.Length)..].Trim());
    }

    private static IEnumerable<string> SplitTopLevel(string text)
    {
        var depth = 0;
        var start = 0;
        for (var i = 0; i < text.Length; i++)
        {
            depth += text[i] switch { '(' => 1, ')' => -1, _ => 0 };
            if (text[i] == ',' && depth == 0)
            {
                yield return text[start..i];
                start = i + 1;
            }
        }

        yield return text[start..];
    }
}

/// <summary>Field selectors the API server supports on every resource (metadata.name, metadata.namespace) and a few more.</summary>
public sealed class FieldSelector
{
    private readonly List<(string Path, string Value, bool Equal)> requirements = [];

    public static FieldSelector Parse(string? text)
    {
        var selector = new FieldSelector();
        foreach (var part in (text ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var negate = part.Contains("!=", StringComparison.Ordinal);
            var pieces = part.Split(negate ? "!=" : part.Contains("==", StringComparison.Ordinal) ? "==" : "=", 2);
            selector.requirements.Add((pieces[0].Trim(), pieces.Length > 1 ? pieces[1].Trim() : "", !negate));
        }

        return selector;
    }

    public bool Matches(JsonNode? obj) => requirements.All(r =>
    {
        JsonNode? current = obj;
        foreach (var segment in r.Path.Split('.'))
        {
            current = current?[segment];
        }

        var actual = current is JsonValue value ? value.ToString() : "";
        return (actual == r.Value) == r.Equal;
    });
}
