using System.Text.Json;
using Gentoo.Portage.Emerge;

namespace Gentoo.Agent.Progress;

/// <summary>
/// Reads the status snapshots Portage publishes with FEATURES="observability" (Portage after 3.0.82):
/// PORTAGE_RUN_PATH/emerge-PID.json, a JSON object of "type": "snapshot" with "jobs" (completed, total, ...) and
/// "tasks" (cpv, phase, ...). Objects of other types, and files that do not parse, are ignored.
/// </summary>
public static class ObservabilitySnapshots
{
    /// <summary>Whether the Portage in <paramref name="root"/> can publish snapshots (it has the observability module).</summary>
    public static bool Supported(string root)
    {
        var lib = Path.Combine(root, "usr", "lib");
        return Directory.Exists(lib)
            && Directory.EnumerateDirectories(lib, "python3*").Any(python => File.Exists(Path.Combine(python, "site-packages", "_emerge", "_observability.py")));
    }

    /// <summary>
    /// The progress in the newest snapshot under <paramref name="root"/>/run/portage written at or after
    /// <paramref name="since"/> (UTC), or null. Older files are another emerge's: a killed one leaves its last
    /// snapshot on the root volume, and it says nothing about this run.
    /// </summary>
    public static EmergeProgress? Read(string root, DateTime since)
    {
        var directory = Path.Combine(root, "run", "portage");
        if (!Directory.Exists(directory))
        {
            return null;
        }

        EmergeProgress? newest = null;
        var newestTime = double.MinValue;
        foreach (var file in Directory.EnumerateFiles(directory, "emerge-*.json"))
        {
            try
            {
                if (File.GetLastWriteTimeUtc(file) < since)
                {
                    continue;
                }

                using var document = JsonDocument.Parse(File.ReadAllText(file));
                var snapshot = document.RootElement;
                if (snapshot.ValueKind != JsonValueKind.Object
                    || !snapshot.TryGetProperty("type", out var type) || type.GetString() != "snapshot"
                    || !snapshot.TryGetProperty("jobs", out var jobs))
                {
                    continue;
                }

                var time = snapshot.TryGetProperty("timestamp", out var stamp) && stamp.ValueKind == JsonValueKind.Number ? stamp.GetDouble() : 0;
                if (time < newestTime)
                {
                    continue;
                }

                var task = snapshot.TryGetProperty("tasks", out var tasks) && tasks.ValueKind == JsonValueKind.Array && tasks.GetArrayLength() > 0
                    ? tasks[0]
                    : default;
                newestTime = time;
                newest = new EmergeProgress(
                    String(task, "cpv"),
                    String(task, "phase"),
                    Number(jobs, "completed"),
                    Number(jobs, "total"));
            }
            catch (Exception e) when (e is JsonException or IOException or InvalidOperationException)
            {
                // Replaced while we read it (Portage writes atomically, but the emerge may be gone): next poll.
            }
        }

        return newest;
    }

    private static string? String(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    private static int Number(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out var number) ? number : 0;
}
