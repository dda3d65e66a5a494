using System.Text.RegularExpressions;

namespace Gentoo.ApiServer.Schema;

/// <summary>
/// Regular expressions as the API server takes them: Go's RE2 syntax, in schema patterns and CEL matches(). .NET reads
/// more (look-around, back-references, atomic groups) than RE2 does; what RE2 refuses is refused here too, with the
/// message Go gives, so a pattern that works only on this server cannot pass its tests.
/// </summary>
public static class Re2Pattern
{
    private static readonly TimeSpan MatchTimeout = TimeSpan.FromSeconds(1);

    public static Regex Compile(string pattern) => new(Checked(pattern), RegexOptions.CultureInvariant, MatchTimeout);

    /// <summary>CEL's matches(): the pattern checked as <see cref="Compile"/> does, then matched through .NET's regex cache.</summary>
    public static bool IsMatch(string text, string pattern) => Regex.IsMatch(text, Checked(pattern), RegexOptions.CultureInvariant, MatchTimeout);

    private static string Checked(string pattern) => Unsupported(pattern) is { } construct
        ? throw new ArgumentException($"error parsing regexp: invalid or unsupported Perl syntax: `{construct}`")
        : pattern;

    /// <summary>The first construct RE2 does not have, or null.</summary>
    public static string? Unsupported(string pattern)
    {
        var inClass = false;
        for (var i = 0; i < pattern.Length; i++)
        {
            var c = pattern[i];
            if (c == '\\' && i + 1 < pattern.Length)
            {
                var next = pattern[i + 1];
                if (!inClass && (next is >= '1' and <= '9' || next is 'G' or 'Z' or 'k'))
                {
                    return pattern.Substring(i, 2);
                }

                i++;
                continue;
            }

            if (inClass)
            {
                inClass = c != ']';
                continue;
            }

            if (c == '[')
            {
                inClass = true;
                if (i + 1 < pattern.Length && pattern[i + 1] == ']')
                {
                    i++; // a leading ] is a member of the class
                }

                continue;
            }

            if (c == '(' && pattern.AsSpan(i).StartsWith("(?") && i + 2 < pattern.Length)
            {
                var rest = pattern.AsSpan(i + 2);
                foreach (var construct in (ReadOnlySpan<string>)["=", "!", "<=", "<!", ">"])
                {
                    if (rest.StartsWith(construct))
                    {
                        return "(?" + construct;
                    }
                }
            }
        }

        return null;
    }
}
