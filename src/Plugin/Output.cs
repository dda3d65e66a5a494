using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using k8s;
using k8s.Models;

namespace Gentoo.Plugin;

/// <summary>How a listing verb prints, as kubectl's -o does: a table (default), a wider table, the objects, or their names.</summary>
public enum OutputFormat
{
    Table,
    Wide,
    Json,
    Yaml,
    Name,
}

/// <summary>The -o option and what it prints, shared by every listing verb.</summary>
public static class Output
{
    private static readonly Dictionary<string, OutputFormat> Names = new(StringComparer.Ordinal)
    {
        ["wide"] = OutputFormat.Wide,
        ["json"] = OutputFormat.Json,
        ["yaml"] = OutputFormat.Yaml,
        ["name"] = OutputFormat.Name,
    };

    // As kubectl -o json prints: indented by four, and only what JSON must escape escaped.
    private static readonly JsonSerializerOptions Printed = new() { WriteIndented = true, IndentSize = 4, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>-o/--output, refused at parse time unless one of the formats (the message names them).</summary>
    public static Option<OutputFormat> Option()
    {
        var option = new Option<OutputFormat>("--output", "-o")
        {
            Description = "json, yaml, wide or name (default: a table)",
            CustomParser = result =>
            {
                var value = result.Tokens.Count == 0 ? "" : result.Tokens[0].Value;
                if (Names.TryGetValue(value, out var format))
                {
                    return format;
                }

                result.AddError($"--output {value}: expected one of {string.Join(", ", Names.Keys)}");
                return OutputFormat.Table;
            },
            DefaultValueFactory = _ => OutputFormat.Table,
        };
        option.CompletionSources.Clear(); // not the enum's own names: the spellings -o takes
        option.CompletionSources.Add(Names.Keys.ToArray());
        return option;
    }

    /// <summary>Objects as kubectl prints several of them: a List in JSON or YAML.</summary>
    public static string Objects(IEnumerable<object> items, OutputFormat format) => Structured(
        Fields(("apiVersion", "v1"), ("kind", "List"), ("metadata", Fields(("resourceVersion", ""))), ("items", new JsonArray([.. items.Select(Node)]))),
        format) ?? throw new ArgumentOutOfRangeException(nameof(format), format, "JSON or YAML");

    /// <summary>
    /// One answer of a get-like verb in the asked format: JSON or YAML of <paramref name="value"/>, else null (the verb
    /// prints its own text; -o name and wide mean nothing more there).
    /// </summary>
    public static string? Structured(object value, OutputFormat format) => format switch
    {
        OutputFormat.Json => Node(value)!.ToJsonString(Printed) + "\n",
        OutputFormat.Yaml => YamlText.Of(Node(value)),
        _ => null,
    };

    /// <summary>An object of the named values that are not null, each as the client's JSON writes it (an answer of several parts).</summary>
    public static JsonObject Fields(params (string Name, object? Value)[] fields) =>
        new(fields.Where(f => f.Value is not null).Select(f => KeyValuePair.Create(f.Name, Node(f.Value))));

    // Through the client's JSON contracts (the kinds' generated ones among them), never reflection: the plugin is compiled ahead of time.
    private static JsonNode? Node(object? value) => value switch
    {
        null => null,
        JsonNode node => node,
        string text => JsonValue.Create(text),
        // A list is known by its items' types: its own (List<T> of a declared IList<T>) has no contract of its own.
        IEnumerable<object> items => new JsonArray([.. items.Select(Node)]),
        _ => JsonNode.Parse(KubernetesJson.Serialize(value)),
    };

    /// <summary>kind.group/name per object, as kubectl get -o name prints it.</summary>
    public static string Name(IKubernetesObject<V1ObjectMeta> obj) =>
        $"{obj.Kind.ToLowerInvariant()}.{obj.ApiVersion.Split('/')[0]}/{obj.Metadata.Name}";

    /// <summary>A table: columns padded to the widest cell, three spaces apart, the last left ragged.</summary>
    public static string Table(List<string[]> rows)
    {
        var widths = Enumerable.Range(0, rows[0].Length).Select(i => rows.Max(r => r[i].Length)).ToArray();
        var text = new StringBuilder();
        foreach (var row in rows)
        {
            text.Append(string.Join("   ", row.Select((cell, i) => i == row.Length - 1 ? cell : cell.PadRight(widths[i]))).TrimEnd()).Append('\n');
        }

        return text.ToString();
    }

    /// <summary>An age as kubectl shows one: 45s, 12m, 5h, 3d.</summary>
    public static string Age(DateTime? since, DateTime now)
    {
        if (since is not { } start)
        {
            return "-";
        }

        var age = now - start.ToUniversalTime();
        return age.TotalSeconds < 120 ? $"{Math.Max(0, (int)age.TotalSeconds)}s"
            : age.TotalMinutes < 120 ? $"{(int)age.TotalMinutes}m"
            : age.TotalHours < 48 ? $"{(int)age.TotalHours}h"
            : $"{(int)age.TotalDays}d";
    }

    public static string Number(int? value) => value?.ToString(CultureInfo.InvariantCulture) ?? "-";
}

/// <summary>Options every verb that waits shares: how long, as a duration.</summary>
public static class WaitOptions
{
    /// <summary>--timeout as a duration ("90s", "5m", "1h30m"); a bare number is seconds, as before.</summary>
    public static Option<TimeSpan> Timeout(string description, TimeSpan fallback) => new("--timeout")
    {
        Description = description + $" (a duration such as 90s, 5m or 1h30m; default {Entities.Schema.Durations.Format(fallback)})",
        DefaultValueFactory = _ => fallback,
        CustomParser = result =>
        {
            var value = result.Tokens.Count == 0 ? "" : result.Tokens[0].Value;
            if (int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds))
            {
                return TimeSpan.FromSeconds(seconds);
            }

            if (Entities.Schema.Durations.TryParse(value, out var duration))
            {
                return duration;
            }

            result.AddError($"--timeout {value}: expected a duration such as 90s, 5m or 1h30m");
            return fallback;
        },
    };
}
