using System.Diagnostics.CodeAnalysis;
using System.Numerics;
using System.Text.RegularExpressions;

namespace Gentoo.Portage.Atoms;

/// <summary>The suffixes of a version, in the order the Package Manager Specification ranks them.</summary>
public enum VersionSuffixKind
{
    Alpha,
    Beta,
    Pre,
    Rc,
    P,
}

public readonly record struct VersionSuffix(VersionSuffixKind Kind, BigInteger Number);

/// <summary>
/// A package version as the Package Manager Specification defines it (section 3.2):
/// numeric components, an optional letter, suffixes (_alpha, _beta, _pre, _rc, _p, each with an optional number)
/// and an optional revision (-rN). Comparison follows the specification's algorithm (section 3.3).
/// </summary>
public sealed partial class PackageVersion : IComparable<PackageVersion>, IEquatable<PackageVersion>
{
    private PackageVersion(string text, IReadOnlyList<string> numbers, char? letter, IReadOnlyList<VersionSuffix> suffixes, BigInteger revision)
    {
        Text = text;
        Numbers = numbers;
        Letter = letter;
        Suffixes = suffixes;
        Revision = revision;
    }

    /// <summary>The version exactly as written.</summary>
    public string Text { get; }

    /// <summary>The numeric components as written (leading zeros matter for comparison).</summary>
    public IReadOnlyList<string> Numbers { get; }

    public char? Letter { get; }

    public IReadOnlyList<VersionSuffix> Suffixes { get; }

    /// <summary>The revision; 0 when absent (-r0 and no revision are equal).</summary>
    public BigInteger Revision { get; }

    /// <summary>The version without its revision, as Portage's PV.</summary>
    public string WithoutRevision => RevisionSuffix().Replace(Text, "");

    public static PackageVersion Parse(string text) =>
        TryParse(text, out var version, out var error) ? version : throw new FormatException(error);

    public static bool TryParse(string text, [NotNullWhen(true)] out PackageVersion? version) => TryParse(text, out version, out _);

    public static bool TryParse(string text, [NotNullWhen(true)] out PackageVersion? version, [NotNullWhen(false)] out string? error)
    {
        version = null;
        var match = Grammar().Match(text);
        if (!match.Success)
        {
            error = $"version '{text}' is not valid: expected digits separated by dots, an optional letter, optional _alpha/_beta/_pre/_rc/_p suffixes and an optional -rN revision";
            return false;
        }

        var numbers = match.Groups["numbers"].Value.Split('.');
        var letter = match.Groups["letter"].Success ? match.Groups["letter"].Value[0] : (char?)null;
        var suffixes = match.Groups["suffix"].Captures.Select(c => ParseSuffix(c.Value)).ToList();
        var revision = match.Groups["revision"].Success ? BigInteger.Parse(match.Groups["revision"].Value, System.Globalization.CultureInfo.InvariantCulture) : BigInteger.Zero;
        version = new PackageVersion(text, numbers, letter, suffixes, revision);
        error = null;
        return true;
    }

    private static VersionSuffix ParseSuffix(string text)
    {
        var name = text.TrimStart('_').TrimEnd("0123456789".ToCharArray());
        var digits = text[(1 + name.Length)..];
        var kind = name switch
        {
            "alpha" => VersionSuffixKind.Alpha,
            "beta" => VersionSuffixKind.Beta,
            "pre" => VersionSuffixKind.Pre,
            "rc" => VersionSuffixKind.Rc,
            _ => VersionSuffixKind.P,
        };
        return new VersionSuffix(kind, digits.Length == 0 ? BigInteger.Zero : BigInteger.Parse(digits, System.Globalization.CultureInfo.InvariantCulture));
    }

    /// <summary>The specification's algorithm 3.1: numbers, then letter, then suffixes, then revision.</summary>
    public int CompareTo(PackageVersion? other)
    {
        if (other is null)
        {
            return 1;
        }

        var first = BigInteger.Parse(Numbers[0], System.Globalization.CultureInfo.InvariantCulture)
            .CompareTo(BigInteger.Parse(other.Numbers[0], System.Globalization.CultureInfo.InvariantCulture));
        if (first != 0)
        {
            return first;
        }

        for (var i = 1; i < Math.Min(Numbers.Count, other.Numbers.Count); i++)
        {
            var result = CompareComponent(Numbers[i], other.Numbers[i]);
            if (result != 0)
            {
                return result;
            }
        }

        if (Numbers.Count != other.Numbers.Count)
        {
            return Numbers.Count.CompareTo(other.Numbers.Count);
        }

        var letters = (Letter ?? '\0').CompareTo(other.Letter ?? '\0');
        if (letters != 0)
        {
            return letters;
        }

        for (var i = 0; i < Math.Min(Suffixes.Count, other.Suffixes.Count); i++)
        {
            var kind = Suffixes[i].Kind.CompareTo(other.Suffixes[i].Kind);
            if (kind != 0)
            {
                return kind;
            }

            var number = Suffixes[i].Number.CompareTo(other.Suffixes[i].Number);
            if (number != 0)
            {
                return number;
            }
        }

        if (Suffixes.Count > other.Suffixes.Count)
        {
            return Suffixes[other.Suffixes.Count].Kind == VersionSuffixKind.P ? 1 : -1;
        }

        if (Suffixes.Count < other.Suffixes.Count)
        {
            return other.Suffixes[Suffixes.Count].Kind == VersionSuffixKind.P ? -1 : 1;
        }

        return Revision.CompareTo(other.Revision);
    }

    /// <summary>Algorithm 3.3: a component with a leading zero compares as a string with trailing zeros removed.</summary>
    private static int CompareComponent(string a, string b)
    {
        if (a.StartsWith('0') || b.StartsWith('0'))
        {
            return string.CompareOrdinal(a.TrimEnd('0'), b.TrimEnd('0'));
        }

        return BigInteger.Parse(a, System.Globalization.CultureInfo.InvariantCulture)
            .CompareTo(BigInteger.Parse(b, System.Globalization.CultureInfo.InvariantCulture));
    }

    /// <summary>The =cat/pkg-1.2* match: the other version's text starts with this one's (on a component boundary).</summary>
    public bool IsPrefixOf(PackageVersion other) => other.Text.StartsWith(Text, StringComparison.Ordinal);

    /// <summary>Equal in the sense of the specification (1.0 equals 1.0-r0), not the same text.</summary>
    public bool Equals(PackageVersion? other) => other is not null && CompareTo(other) == 0;

    public override bool Equals(object? obj) => obj is PackageVersion other && Equals(other);

    public override int GetHashCode() =>
        HashCode.Combine(BigInteger.Parse(Numbers[0], System.Globalization.CultureInfo.InvariantCulture), Numbers.Count, Letter, Suffixes.Count, Revision);

    public override string ToString() => Text;

    public static bool operator ==(PackageVersion? a, PackageVersion? b) => a is null ? b is null : a.Equals(b);

    public static bool operator !=(PackageVersion? a, PackageVersion? b) => !(a == b);

    public static bool operator <(PackageVersion a, PackageVersion b) => a.CompareTo(b) < 0;

    public static bool operator >(PackageVersion a, PackageVersion b) => a.CompareTo(b) > 0;

    public static bool operator <=(PackageVersion a, PackageVersion b) => a.CompareTo(b) <= 0;

    public static bool operator >=(PackageVersion a, PackageVersion b) => a.CompareTo(b) >= 0;

    [GeneratedRegex("^(?<numbers>[0-9]+(\\.[0-9]+)*)(?<letter>[a-z])?(?<suffix>_(alpha|beta|pre|rc|p)[0-9]*)*(-r(?<revision>[0-9]+))?$", RegexOptions.CultureInvariant)]
    private static partial Regex Grammar();

    [GeneratedRegex("-r[0-9]+$")]
    private static partial Regex RevisionSuffix();
}
