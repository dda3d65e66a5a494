using System.Text.Json;
using Gentoo.Entities.V1Alpha1;

namespace Gentoo.Operator.Decisions;

/// <summary>
/// The agent's live progress, read back from the build container's log: it writes one
/// <c>gentoo-builder-progress {"package","phase","done","total"}</c> line to stderr whenever the progress changes.
/// </summary>
public static class BuildProgressLines
{
    public const string Prefix = "gentoo-builder-progress ";

    /// <summary>The newest well-formed progress line in <paramref name="log"/>, or null when there is none.</summary>
    public static BuildProgress? Last(string? log)
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

    private static BuildProgress? Parse(string json)
    {
        try
        {
            using var document = JsonDocument.Parse(json);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                return null;
            }

            return new BuildProgress
            {
                CurrentPackage = Text(root, "package"),
                Phase = Text(root, "phase"),
                Done = Number(root, "done"),
                Total = Number(root, "total"),
            };
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
