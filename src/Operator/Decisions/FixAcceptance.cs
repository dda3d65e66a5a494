using System.Globalization;
using Gentoo.Entities.V1Alpha1;
using Gentoo.Portage.Atoms;

namespace Gentoo.Operator.Decisions;

/// <summary>
/// Configuration fixes emerge proposed, written as managed configuration: the ones a person accepts when resuming
/// (the accept-fixes annotation: "1,3" or "all"), and those the builder's autounmask policy accepts by itself,
/// at the width keywordScope asks for. They live in the builder's fixes ConfigMap, one key per Portage file.
/// </summary>
public static class FixAcceptance
{
    public const string KeySuffix = ".fixes";

    private static readonly string[] Writable = ["package.accept_keywords", "package.use", "package.license", "package.unmask", "package.mask", "package.env"];

    /// <summary>The fixes named by the annotation, or an error naming the annotation and what would be valid.</summary>
    public static bool TrySelect(string annotation, IList<ProposedFix>? proposed, out IReadOnlyList<ProposedFix> chosen, out string? error)
    {
        chosen = [];
        error = null;
        var available = proposed ?? [];
        var numbers = available.Select(f => f.Number ?? 0).ToList();
        var valid = numbers.Count == 0 ? "there are none" : "proposed: " + string.Join(", ", numbers);
        if (annotation.Trim() == "all")
        {
            chosen = [.. available];
            return true;
        }

        var picked = new List<ProposedFix>();
        foreach (var part in annotation.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!int.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out var number) || available.FirstOrDefault(f => f.Number == number) is not { } fix)
            {
                error = $"annotation {RequestAnnotations.AcceptFixes}: '{part}' is not a proposed fix number ({valid}); use numbers separated by commas, or all";
                return false;
            }

            if (fix.File is not { } file || !Writable.Contains(file))
            {
                error = $"annotation {RequestAnnotations.AcceptFixes}: fix {number} changes {fix.File}, which the operator does not write; apply it in the GentooBootstrap's configuration instead";
                return false;
            }

            picked.Add(fix);
        }

        chosen = picked;
        return true;
    }

    /// <summary>The fixes the policy accepts by itself (never temporary ones), rescoped to keywordScope.</summary>
    public static IReadOnlyList<ProposedFix> Automatic(AutounmaskPolicy policy, KeywordScope scope, IList<ProposedFix>? proposed, IList<string>? alreadyApplied)
    {
        if (policy == AutounmaskPolicy.Never || proposed is null)
        {
            return [];
        }

        bool Accepted(ProposedFix fix) => fix.File == "package.accept_keywords" && fix.Class == FailureClass.KeywordChangeRequired
            || policy == AutounmaskPolicy.KeywordsAndUse && fix.File == "package.use" && fix.Class == FailureClass.UseChangeRequired;
        var rescoped = proposed.Where(Accepted).Select(f => new ProposedFix
        {
            Number = f.Number,
            Class = f.Class,
            File = f.File,
            Lines = f.File == "package.accept_keywords" ? [.. (f.Lines ?? []).Select(l => Rescope(l, scope))] : f.Lines,
        }).ToList();

        // A fix applied before that emerge asks for again did not help: a person decides.
        return rescoped.Any(f => Describe(f).All(d => alreadyApplied?.Contains(d) == true)) ? [] : rescoped;
    }

    /// <summary>"FILE: LINE" for each line, as status.appliedFixes records them.</summary>
    public static IEnumerable<string> Describe(ProposedFix fix) => (fix.Lines ?? []).Select(l => $"{fix.File}: {l}");

    /// <summary>The fixes ConfigMap's data with <paramref name="fixes"/> added (a line already there is not repeated).</summary>
    public static Dictionary<string, string> Merge(IDictionary<string, string>? existing, IEnumerable<ProposedFix> fixes)
    {
        var data = new Dictionary<string, string>(existing ?? new Dictionary<string, string>(), StringComparer.Ordinal);
        foreach (var fix in fixes.Where(f => f.File is not null))
        {
            var key = fix.File + KeySuffix;
            var lines = data.TryGetValue(key, out var text) ? text.Split('\n', StringSplitOptions.RemoveEmptyEntries).ToList() : [];
            lines.AddRange((fix.Lines ?? []).Where(l => !lines.Contains(l)));
            data[key] = string.Concat(lines.Select(l => l + "\n"));
        }

        return data;
    }

    /// <summary>"=cat/pkg-1.2 ~amd64" at the asked width: "=cat/pkg-1.2", "cat/pkg:slot" or "cat/pkg", then the keywords.</summary>
    public static string Rescope(string line, KeywordScope scope)
    {
        var parts = line.Split(' ', 2, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (parts.Length == 0 || !Atom.TryParse(parts[0], out var atom) || atom.Set is not null)
        {
            return line;
        }

        var width = scope switch
        {
            KeywordScope.Version => AtomScope.Version,
            KeywordScope.Package => AtomScope.Package,
            _ => AtomScope.Slot,
        };
        return parts.Length > 1 ? $"{atom.Scoped(width)} {parts[1]}" : atom.Scoped(width);
    }
}
