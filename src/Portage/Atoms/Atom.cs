using System.Diagnostics.CodeAnalysis;
using System.Text;
using System.Text.RegularExpressions;

namespace Gentoo.Portage.Atoms;

/// <summary>A version operator of a dependency atom.</summary>
public enum AtomOperator
{
    None,
    Less,
    LessOrEqual,
    Equal,

    /// <summary>=cat/pkg-1.2*: the version starts with the given one.</summary>
    EqualGlob,

    /// <summary>~cat/pkg-1.2: any revision of the version.</summary>
    Approximate,
    GreaterOrEqual,
    Greater,
}

/// <summary>How wide an accepted keyword (or other per-package configuration line) is written.</summary>
public enum AtomScope
{
    /// <summary>=cat/pkg-1.2.3: exactly this version; stops matching at the next bump.</summary>
    Version,

    /// <summary>cat/pkg:slot: every version in the slot.</summary>
    Slot,

    /// <summary>cat/pkg: every version.</summary>
    Package,
}

/// <summary>
/// A package dependency atom as Portage parses it: an optional blocker (! or !!), an optional version operator,
/// category/name, a version when there is an operator, a slot dependency (:slot, :slot/sub, :=, :*, :slot=),
/// a repository (::repo) and USE dependencies ([flag,-flag,flag?,!flag?,flag=,!flag=,flag(+),flag(-)]).
/// Package sets (@world) are atoms too, with <see cref="Set"/> set.
/// </summary>
public sealed partial class Atom
{
    private Atom()
    {
    }

    /// <summary>The name of a package set such as "world", when the atom is one.</summary>
    public string? Set { get; private init; }

    /// <summary>0 none, 1 "!" (weak), 2 "!!" (strong).</summary>
    public int Blocker { get; private init; }

    public AtomOperator Operator { get; private init; }

    public string Category { get; private init; } = "";

    public string Name { get; private init; } = "";

    public PackageVersion? Version { get; private init; }

    /// <summary>The slot dependency after ':' as written ("0", "0/1.2", "=", "*", "2="), or null.</summary>
    public string? SlotDependency { get; private init; }

    public string? Repository { get; private init; }

    public IReadOnlyList<string> UseDependencies { get; private init; } = [];

    /// <summary>category/name.</summary>
    public string Key => $"{Category}/{Name}";

    /// <summary>The slot part of the slot dependency ("0" of "0/1.2"); null for :=, :* or none.</summary>
    public string? Slot => SlotDependency?.TrimEnd('=').Split('/')[0] is { Length: > 0 } slot && slot != "*" ? slot : null;

    public static Atom Parse(string text) =>
        TryParse(text, out var atom, out var error) ? atom : throw new FormatException(error);

    public static bool TryParse(string text, [NotNullWhen(true)] out Atom? atom) => TryParse(text, out atom, out _);

    public static bool TryParse(string text, [NotNullWhen(true)] out Atom? atom, [NotNullWhen(false)] out string? error)
    {
        atom = null;
        if (string.IsNullOrWhiteSpace(text))
        {
            error = "atom is empty";
            return false;
        }

        if (text.StartsWith('@'))
        {
            var setName = text[1..];
            if (!SetName().IsMatch(setName))
            {
                error = $"atom '{text}': set name '{setName}' may contain only letters, digits, '+', '_', '.' and '-'";
                return false;
            }

            atom = new Atom { Set = setName };
            error = null;
            return true;
        }

        var rest = text;
        var blocker = rest.StartsWith("!!", StringComparison.Ordinal) ? 2 : rest.StartsWith('!') ? 1 : 0;
        rest = rest[blocker..];

        var (op, opLength) = rest switch
        {
            _ when rest.StartsWith(">=", StringComparison.Ordinal) => (AtomOperator.GreaterOrEqual, 2),
            _ when rest.StartsWith("<=", StringComparison.Ordinal) => (AtomOperator.LessOrEqual, 2),
            _ when rest.StartsWith('>') => (AtomOperator.Greater, 1),
            _ when rest.StartsWith('<') => (AtomOperator.Less, 1),
            _ when rest.StartsWith('=') => (AtomOperator.Equal, 1),
            _ when rest.StartsWith('~') => (AtomOperator.Approximate, 1),
            _ => (AtomOperator.None, 0),
        };
        rest = rest[opLength..];

        var useDependencies = new List<string>();
        var bracket = rest.IndexOf('[', StringComparison.Ordinal);
        if (bracket >= 0)
        {
            if (!rest.EndsWith(']'))
            {
                error = $"atom '{text}': USE dependencies must end with ']'";
                return false;
            }

            foreach (var flag in rest[(bracket + 1)..^1].Split(','))
            {
                if (!UseDependency().IsMatch(flag))
                {
                    error = $"atom '{text}': USE dependency '{flag}' is not valid (expected flag, -flag, flag?, !flag?, flag=, !flag=, optionally with (+) or (-) after the name)";
                    return false;
                }

                useDependencies.Add(flag);
            }

            rest = rest[..bracket];
        }

        string? repository = null;
        var repoAt = rest.IndexOf("::", StringComparison.Ordinal);
        if (repoAt >= 0)
        {
            repository = rest[(repoAt + 2)..];
            rest = rest[..repoAt];
            if (!RepositoryName().IsMatch(repository))
            {
                error = $"atom '{text}': repository '{repository}' may contain only letters, digits, '_' and '-' and must not start with '-'";
                return false;
            }
        }

        string? slot = null;
        var slotAt = rest.IndexOf(':', StringComparison.Ordinal);
        if (slotAt >= 0)
        {
            slot = rest[(slotAt + 1)..];
            rest = rest[..slotAt];
            if (!SlotDependencyPattern().IsMatch(slot))
            {
                error = $"atom '{text}': slot '{slot}' is not valid (expected slot, slot/subslot, =, *, or slot=)";
                return false;
            }
        }

        var glob = false;
        if (rest.EndsWith('*'))
        {
            if (op != AtomOperator.Equal)
            {
                error = $"atom '{text}': a trailing '*' is allowed only with the '=' operator";
                return false;
            }

            glob = true;
            op = AtomOperator.EqualGlob;
            rest = rest[..^1];
        }

        var slash = rest.IndexOf('/', StringComparison.Ordinal);
        if (slash <= 0 || rest.IndexOf('/', slash + 1) >= 0)
        {
            error = $"atom '{text}': expected category/package, got '{rest}'";
            return false;
        }

        var category = rest[..slash];
        var nameAndVersion = rest[(slash + 1)..];
        if (!CategoryName().IsMatch(category))
        {
            error = $"atom '{text}': category '{category}' may contain only letters, digits, '+', '_', '.' and '-' and must not start with '-', '.' or '+'";
            return false;
        }

        string name;
        PackageVersion? version = null;
        if (op == AtomOperator.None)
        {
            name = nameAndVersion;
            if (EndsWithVersion(name))
            {
                error = $"atom '{text}': package name '{name}' ends in what looks like a version; add an operator such as '=' to name a version";
                return false;
            }
        }
        else
        {
            var split = SplitVersion(nameAndVersion);
            if (split is null)
            {
                error = $"atom '{text}': the operator needs a version after the package name, as in '{OperatorText(op)}{category}/{nameAndVersion}-1.0'";
                return false;
            }

            (name, version) = split.Value;
            if (op == AtomOperator.Approximate && version.Revision != 0)
            {
                error = $"atom '{text}': '~' matches every revision, so the version must not have one";
                return false;
            }
        }

        if (!PackageName().IsMatch(name))
        {
            error = $"atom '{text}': package name '{name}' may contain only letters, digits, '+', '_' and '-' and must not start with '-' or '+'";
            return false;
        }

        atom = new Atom
        {
            Blocker = blocker,
            Operator = glob ? AtomOperator.EqualGlob : op,
            Category = category,
            Name = name,
            Version = version,
            SlotDependency = slot,
            Repository = repository,
            UseDependencies = useDependencies,
        };
        error = null;
        return true;
    }

    /// <summary>Splits "name-1.2.3-r1" into name and version at the last hyphen that starts a valid version.</summary>
    public static (string Name, PackageVersion Version)? SplitVersion(string nameAndVersion)
    {
        for (var hyphen = nameAndVersion.IndexOf('-', StringComparison.Ordinal); hyphen > 0; hyphen = nameAndVersion.IndexOf('-', hyphen + 1))
        {
            if (PackageVersion.TryParse(nameAndVersion[(hyphen + 1)..], out var version))
            {
                return (nameAndVersion[..hyphen], version);
            }
        }

        return null;
    }

    private static bool EndsWithVersion(string name) =>
        SplitVersion(name) is { } split && PackageName().IsMatch(split.Name);

    /// <summary>True when a package of this key, version and slot satisfies the atom (blockers ignored).</summary>
    public bool Matches(string category, string name, PackageVersion version, string? slot = null)
    {
        if (Set is not null || category != Category || name != Name)
        {
            return false;
        }

        if (Slot is { } wanted && slot is not null && wanted != slot)
        {
            return false;
        }

        if (Version is null)
        {
            return true;
        }

        var order = version.CompareTo(Version);
        return Operator switch
        {
            AtomOperator.Less => order < 0,
            AtomOperator.LessOrEqual => order <= 0,
            AtomOperator.Equal => order == 0,
            AtomOperator.EqualGlob => Version.IsPrefixOf(version),
            AtomOperator.Approximate => PackageVersion.Parse(version.WithoutRevision).Equals(Version),
            AtomOperator.GreaterOrEqual => order >= 0,
            AtomOperator.Greater => order > 0,
            _ => true,
        };
    }

    /// <summary>
    /// This package written at the given width: "=cat/pkg-1.2" (Version), "cat/pkg:slot" (Slot, when the slot is
    /// known, else the package), or "cat/pkg" (Package). Lines written this way survive version bumps as asked.
    /// </summary>
    public string Scoped(AtomScope scope, string? knownSlot = null) => scope switch
    {
        AtomScope.Version when Version is not null => $"={Key}-{Version}",
        AtomScope.Slot when (knownSlot ?? Slot) is { } slot => $"{Key}:{slot}",
        _ => Key,
    };

    public override string ToString()
    {
        if (Set is not null)
        {
            return "@" + Set;
        }

        var text = new StringBuilder();
        text.Append('!', Blocker);
        text.Append(OperatorText(Operator));
        text.Append(Key);
        if (Version is not null)
        {
            text.Append('-').Append(Version.Text);
        }

        if (Operator == AtomOperator.EqualGlob)
        {
            text.Append('*');
        }

        if (SlotDependency is not null)
        {
            text.Append(':').Append(SlotDependency);
        }

        if (Repository is not null)
        {
            text.Append("::").Append(Repository);
        }

        if (UseDependencies.Count > 0)
        {
            text.Append('[').Append(string.Join(',', UseDependencies)).Append(']');
        }

        return text.ToString();
    }

    private static string OperatorText(AtomOperator op) => op switch
    {
        AtomOperator.Less => "<",
        AtomOperator.LessOrEqual => "<=",
        AtomOperator.Equal or AtomOperator.EqualGlob => "=",
        AtomOperator.Approximate => "~",
        AtomOperator.GreaterOrEqual => ">=",
        AtomOperator.Greater => ">",
        _ => "",
    };

    [GeneratedRegex("^[A-Za-z0-9_][A-Za-z0-9+_.-]*$")]
    private static partial Regex CategoryName();

    [GeneratedRegex("^[A-Za-z0-9_][A-Za-z0-9+_-]*$")]
    private static partial Regex PackageName();

    [GeneratedRegex("^[A-Za-z0-9_][A-Za-z0-9+_.-]*$")]
    private static partial Regex SetName();

    [GeneratedRegex("^[A-Za-z0-9_][A-Za-z0-9_-]*$")]
    private static partial Regex RepositoryName();

    [GeneratedRegex("^(\\*|=|[A-Za-z0-9_][A-Za-z0-9+_.-]*(/[A-Za-z0-9_][A-Za-z0-9+_.-]*)?=?)$")]
    private static partial Regex SlotDependencyPattern();

    [GeneratedRegex("^(!?[A-Za-z0-9][A-Za-z0-9+_@-]*(\\([+-]\\))?[?=]|-?[A-Za-z0-9][A-Za-z0-9+_@-]*(\\([+-]\\))?)$")]
    private static partial Regex UseDependency();
}
