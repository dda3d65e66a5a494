using System.Text.RegularExpressions;
using Gentoo.Portage.Atoms;

namespace Gentoo.Portage.Repositories;

/// <summary>Facts about packages read from ebuild repositories on disk (the directories under /var/db/repos).</summary>
public static partial class EbuildRepositories
{
    /// <summary>The repositories under <paramref name="reposDirectory"/> (/var/db/repos): gentoo first, then by name.</summary>
    public static IReadOnlyList<string> Under(string reposDirectory) =>
        Directory.Exists(reposDirectory)
            ? [.. Directory.EnumerateDirectories(reposDirectory).OrderBy(d => Path.GetFileName(d) == "gentoo" ? 0 : 1).ThenBy(d => d, StringComparer.Ordinal)]
            : [];

    /// <summary>The classifier's slot lookup over the repositories under <paramref name="reposDirectory"/> (/var/db/repos).</summary>
    public static Func<string, string?> SlotLookup(string reposDirectory)
    {
        var repositories = Under(reposDirectory);
        return cpv => SlotOf(repositories, cpv);
    }

    /// <summary>
    /// The SLOT, without its sub-slot, of "category/name-version" in the first repository that has it: from the
    /// metadata cache a synced repository carries (metadata/md5-cache/CATEGORY/PF), else from a literal SLOT="..."
    /// line of the ebuild; null when neither says (a slot computed from variables is left to Portage).
    /// </summary>
    public static string? SlotOf(IEnumerable<string> repositories, string cpv)
    {
        if (!Atom.TryParse("=" + cpv, out var atom, out _) || atom.Version is null)
        {
            return null;
        }

        var pf = cpv[(cpv.IndexOf('/', StringComparison.Ordinal) + 1)..];
        foreach (var repository in repositories)
        {
            var cached = Path.Combine(repository, "metadata", "md5-cache", atom.Category, pf);
            if (File.Exists(cached) && File.ReadLines(cached).FirstOrDefault(l => l.StartsWith("SLOT=", StringComparison.Ordinal)) is { } line)
            {
                return WithoutSubSlot(line["SLOT=".Length..]);
            }

            var ebuild = Path.Combine(repository, atom.Category, atom.Name, pf + ".ebuild");
            if (File.Exists(ebuild) && LiteralSlot().Match(File.ReadAllText(ebuild)) is { Success: true } literal)
            {
                return WithoutSubSlot(literal.Groups["slot"].Value);
            }
        }

        return null;
    }

    private static string? WithoutSubSlot(string slot) => slot.Split('/')[0].Trim() is { Length: > 0 } main ? main : null;

    [GeneratedRegex("""^\s*SLOT=(?<q>["']?)(?<slot>[A-Za-z0-9_][A-Za-z0-9+_.\-/]*)\k<q>\s*(#.*)?$""", RegexOptions.Multiline)]
    private static partial Regex LiteralSlot();
}
