using System.Globalization;
using System.Text.RegularExpressions;

namespace Gentoo.Entities.Schema;

/// <summary>Durations as Kubernetes APIs write them (Go's time.ParseDuration without a sign): "90m", "1h30m", "1.5h".</summary>
public static partial class Durations
{
    public static bool TryParse(string? text, out TimeSpan duration)
    {
        duration = TimeSpan.Zero;
        if (string.IsNullOrEmpty(text) || !Whole().IsMatch(text))
        {
            return false;
        }

        foreach (Match part in Part().Matches(text))
        {
            var value = double.Parse(part.Groups["value"].Value, CultureInfo.InvariantCulture);
            duration += part.Groups["unit"].Value switch
            {
                "h" => TimeSpan.FromHours(value),
                "m" => TimeSpan.FromMinutes(value),
                "s" => TimeSpan.FromSeconds(value),
                "ms" => TimeSpan.FromMilliseconds(value),
                "us" or "µs" => TimeSpan.FromMicroseconds(value),
                _ => TimeSpan.FromTicks((long)(value / 100)),
            };
        }

        return true;
    }

    /// <summary>A duration as TryParse reads it back: "1h30m", "45s", "0s".</summary>
    public static string Format(TimeSpan duration)
    {
        var text = (duration.Days * 24 + duration.Hours > 0 ? $"{(int)duration.TotalHours}h" : "")
            + (duration.Minutes > 0 ? $"{duration.Minutes}m" : "")
            + (duration.Seconds > 0 ? $"{duration.Seconds}s" : "");
        return text.Length == 0 ? "0s" : text;
    }

    [GeneratedRegex("^([0-9]+(\\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$")]
    private static partial Regex Whole();

    [GeneratedRegex("(?<value>[0-9]+(\\.[0-9]+)?)(?<unit>ns|us|µs|ms|s|m|h)")]
    private static partial Regex Part();
}
