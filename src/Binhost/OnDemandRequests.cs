using Gentoo.Runtime;
using Gentoo.Entities.V1Alpha1;
using Gentoo.Portage.Atoms;
using Gentoo.Portage.Binhost;
using k8s.Models;

namespace Gentoo.Binhost;

/// <summary>
/// What a client's request for packages the binhost lacks becomes: which atoms are valid, which are built already,
/// whether an open on-demand BuildRun covers the rest, and whether the builder's hourly allowance is spent.
/// </summary>
public static class OnDemandRequests
{
    /// <summary>Marks the BuildRuns made on demand: the ones deduplicated against and counted for the rate limit.</summary>
    public const string Label = GroupVersion.Group + "/on-demand";

    /// <summary>Who asked (the client address the binhost saw), for the audit trail.</summary>
    public const string RequesterAnnotation = GroupVersion.Group + "/requested-by";

    public const int MaxPackages = 32;

    /// <summary>The requested atoms, or one line naming the first bad one and what would be valid.</summary>
    public static (IReadOnlyList<Atom>? Atoms, string? Error) Parse(IReadOnlyList<string> packages)
    {
        if (packages.Count == 0)
        {
            return (null, "no packages: send atoms such as app-editors/vim, one per line, or JSON {\"packages\": [\"app-editors/vim\"]}");
        }

        if (packages.Count > MaxPackages)
        {
            return (null, $"{packages.Count} packages: at most {MaxPackages} per request");
        }

        var atoms = new List<Atom>();
        foreach (var text in packages)
        {
            if (text.StartsWith('@'))
            {
                return (null, $"'{text}': builds on demand take packages, not sets; ask for the packages themselves (the builder's autoBuild builds its sets)");
            }

            if (!Atom.TryParse(text, out var atom, out var error))
            {
                return (null, $"'{text}': {error}; expected an atom such as app-editors/vim or >=dev-libs/nss-3.90");
            }

            if (atom.Blocker > 0)
            {
                return (null, $"'{text}': a blocker cannot be built; ask for a package");
            }

            atoms.Add(atom);
        }

        return (atoms, null);
    }

    /// <summary>The atoms no package in the index satisfies, in the order asked, each once.</summary>
    public static IReadOnlyList<string> NotBuilt(IEnumerable<Atom> atoms, PackagesIndex index)
    {
        var built = index.Packages
            .Select(p => (Cpv: p["CPV"], Slot: p["SLOT"]?.Split('/')[0]))
            .Where(p => p.Cpv is not null && p.Cpv.Contains('/', StringComparison.Ordinal))
            .Select(p => (Category: p.Cpv![..p.Cpv!.IndexOf('/', StringComparison.Ordinal)], Split: Atom.SplitVersion(p.Cpv[(p.Cpv.IndexOf('/', StringComparison.Ordinal) + 1)..]), p.Slot))
            .Where(p => p.Split is not null)
            .ToList();
        return atoms.Where(a => !built.Any(p => a.Matches(p.Category, p.Split!.Value.Name, p.Split.Value.Version, p.Slot)))
            .Select(a => a.ToString()).Distinct(StringComparer.Ordinal).ToList();
    }

    /// <summary>An on-demand run of the builder, not finished yet, that already builds every one of the atoms.</summary>
    public static BuildRun? Covering(IEnumerable<BuildRun> runs, string builder, IReadOnlyList<string> atoms) =>
        runs.Where(r => r.Spec.BuilderRef.Name == builder && IsOnDemand(r) && !(r.Status?.Phase).IsFinished())
            .Where(r => atoms.All(a => r.Spec.Packages?.Contains(a) == true))
            .OrderBy(r => r.Metadata.CreationTimestamp ?? DateTime.MaxValue)
            .FirstOrDefault();

    /// <summary>
    /// Null while the builder may have another on-demand run this hour; otherwise how long until the oldest run of
    /// the past hour stops counting.
    /// </summary>
    public static TimeSpan? RetryAfter(IEnumerable<BuildRun> runs, string builder, int maxPerHour, DateTime now)
    {
        var window = TimeSpan.FromHours(1);
        var recent = runs.Where(r => r.Spec.BuilderRef.Name == builder && IsOnDemand(r))
            .Select(r => r.Metadata.CreationTimestamp ?? now)
            .Where(t => now - t < window)
            .Order()
            .ToList();
        return recent.Count < maxPerHour ? null : recent[recent.Count - maxPerHour] + window - now;
    }

    /// <summary>The BuildRun for the atoms (a generated name: the same atoms may be asked for again after this run ends).</summary>
    public static BuildRun Run(string ns, string builder, IReadOnlyList<string> atoms, string requester) => new()
    {
        Metadata = new V1ObjectMeta
        {
            GenerateName = builder + "-ondemand-",
            NamespaceProperty = ns,
            Labels = new Dictionary<string, string> { [Label] = "true", [ObjectLabels.Builder] = builder },
            Annotations = new Dictionary<string, string> { [RequesterAnnotation] = requester },
        },
        Spec = new BuildRunSpec { BuilderRef = new LocalReference { Name = builder }, Packages = [.. atoms] },
    };

    private static bool IsOnDemand(BuildRun run) => run.Metadata.Labels?.TryGetValue(Label, out var value) == true && value == "true";
}
