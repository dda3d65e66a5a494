using System.Text.Json;
using System.Text.Json.Nodes;

namespace Gentoo.Protocol;

/// <summary>Where a running emerge is: the package it works on, its phase, and how many of how many are done.</summary>
public sealed record AgentProgress(string? Package, string? Phase, int? Done, int? Total);

/// <summary>
/// The agent's live progress: one <c>gentoo-builder-progress {"package","phase","done","total"}</c> line on stderr
/// whenever it changes (stderr, so that a line never lands inside a half-written line of emerge's output). The operator
/// reads the newest back from the container's log.
/// </summary>
public static class ProgressLines
{
    public const string Prefix = "gentoo-builder-progress ";

    public static string Format(AgentProgress progress) =>
        Prefix + new JsonObject
        {
            ["package"] = progress.Package,
            ["phase"] = progress.Phase,
            ["done"] = progress.Done,
            ["total"] = progress.Total,
        }.ToJsonString();

    /// <summary>The newest well-formed progress line in <paramref name="log"/>, or null when there is none.</summary>
    public static AgentProgress? Last(string? log)
    {
        if (string.IsNullOrEmpty(log))
        {
            return null;
        }

        var lines = log.Split('\n');
        for (var i = lines.Length - 1; i >= 0; i--)
        {
            var line = lines[i].TrimEnd('\r');
            var at = line.IndexOf(Prefix, StringComparison.Ordinal);
            if (at >= 0 && Parse(line[(at + Prefix.Length)..]) is { } progress)
            {
                return progress;
            }
        }

        return null;
    }

    private static AgentProgress? Parse(string json)
    {
        try
        {
            using var document = JsonDocument.Parse(json);
            var root = document.RootElement;
            return root.ValueKind != JsonValueKind.Object
                ? null
                : new AgentProgress(Text(root, "package"), Text(root, "phase"), Number(root, "done"), Number(root, "total"));
        }
        catch (JsonException)
        {
            // A line cut by log rotation or a size limit: an older line still tells where the build is.
            return null;
        }
    }

    private static string? Text(JsonElement root, string name) =>
        root.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    private static int? Number(JsonElement root, string name) =>
        root.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out var n) ? n : null;
}
