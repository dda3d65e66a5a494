using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Text.RegularExpressions;

namespace Gentoo.Portage.Kernels;

/// <summary>
/// A Linux kernel release: what uname -r prints ("6.1.0-gentoo-dist", "5.15.0-91-generic", "6.6.30+rpt-rpi-v8"),
/// an ELF ABI tag ("3.17.0"), or the LINUX_VERSION_CODE integer ((major &lt;&lt; 16) + (minor &lt;&lt; 8) + patch, patch
/// capped at 255 as the kernel headers do). Ordered by major, minor, patch; the local suffix does not count.
/// </summary>
public readonly partial record struct KernelVersion(int Major, int Minor, int Patch) : IComparable<KernelVersion>
{
    /// <summary>The LINUX_VERSION_CODE encoding, comparable as an integer (what node labels carry for affinity Gt/Lt).</summary>
    public int Code => (Major << 16) + (Minor << 8) + Math.Min(Patch, 255);

    public static KernelVersion FromCode(int code) => new(code >> 16, (code >> 8) & 0xff, code & 0xff);

    public static KernelVersion Parse(string text) =>
        TryParse(text, out var version) ? version : throw new FormatException($"'{text}' is not a kernel release: expected MAJOR.MINOR[.PATCH] optionally followed by a local suffix, as uname -r prints");

    /// <summary>Parses the leading MAJOR.MINOR[.PATCH] of a release; what follows ('-', '+', '_', '.', letters) is the local suffix.</summary>
    public static bool TryParse(string? text, [NotNullWhen(true)] out KernelVersion version)
    {
        version = default;
        var match = text is null ? Match.Empty : Release().Match(text.Trim());
        if (!match.Success
            || !int.TryParse(match.Groups[1].Value, NumberStyles.None, CultureInfo.InvariantCulture, out var major)
            || !int.TryParse(match.Groups[2].Value, NumberStyles.None, CultureInfo.InvariantCulture, out var minor)
            || major > 32767 || minor > 255)
        {
            return false;
        }

        var patch = 0;
        if (match.Groups[3].Success && !int.TryParse(match.Groups[3].Value, NumberStyles.None, CultureInfo.InvariantCulture, out patch))
        {
            return false;
        }

        version = new KernelVersion(major, minor, patch);
        return true;
    }

    public int CompareTo(KernelVersion other) =>
        Major != other.Major ? Major.CompareTo(other.Major)
        : Minor != other.Minor ? Minor.CompareTo(other.Minor)
        : Patch.CompareTo(other.Patch);

    public static bool operator <(KernelVersion a, KernelVersion b) => a.CompareTo(b) < 0;

    public static bool operator >(KernelVersion a, KernelVersion b) => a.CompareTo(b) > 0;

    public static bool operator <=(KernelVersion a, KernelVersion b) => a.CompareTo(b) <= 0;

    public static bool operator >=(KernelVersion a, KernelVersion b) => a.CompareTo(b) >= 0;

    public static KernelVersion Max(KernelVersion a, KernelVersion b) => a >= b ? a : b;

    public override string ToString() => $"{Major}.{Minor}.{Patch}";

    // The release must end after the numbers or continue with a separator or a letter ("6.6.30+rpt", "4.19.0rc1").
    [GeneratedRegex("^([0-9]+)\\.([0-9]+)(?:\\.([0-9]+))?(?=$|[^0-9.]|\\.[^0-9])")]
    private static partial Regex Release();
}
