using System.Globalization;
using System.Text.RegularExpressions;

namespace Gentoo.Operator.Decisions;

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

    [GeneratedRegex("^([0-9]+(\\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$")]
    private static partial Regex Whole();

    [GeneratedRegex("(?<value>[0-9]+(\\.[0-9]+)?)(?<unit>ns|us|µs|ms|s|m|h)")]
    private static partial Regex Part();
}
