using System.Text.Json;

namespace Gentoo.Portage.Emerge;

/// <summary>What an emerge run came to.</summary>
public enum OutcomeClass
{
    Success,
    CircularDependency,
    UseChangeRequired,
    KeywordChangeRequired,
    MaskedPackage,
    LicenseRequired,
    SlotConflict,
    Blocker,
    UnknownAtom,
    FetchFailure,
    BuildFailure,

    /// <summary>gpg could not sign a package, or Portage could not verify one it made or re-used.</summary>
    SigningFailure,
    Interrupted,
    Unknown,
}

/// <summary>A configuration change that would fix the outcome: a line for a file under /etc/portage.</summary>
/// <param name="File">package.use, package.accept_keywords, package.license or package.unmask.</param>
/// <param name="Line">The line, with its atom written at the requested scope where the file allows it.</param>
/// <param name="Temporary">True for a change that only breaks a cycle: apply once, then revert.</param>
public sealed record ConfigurationFix(string File, string Line, bool Temporary = false);

/// <summary>Where a running emerge is: the package it works on, its phase, and how many of how many are done.</summary>
public sealed record EmergeProgress(string? Package, string? Phase, int Done, int Total);

/// <summary>The classification of one emerge run.</summary>
public sealed record EmergeOutcome(
    OutcomeClass Class,
    IReadOnlyList<string> Atoms,
    string? Phase,
    int PackagesMerged,
    int BinariesReused,
    string? BuildLog,
    IReadOnlyList<string> Suggested,
    IReadOnlyList<ConfigurationFix> Fixes,
    IReadOnlyList<string> Excerpt)
{
    /// <summary>The packages merged in this run, as category/name-version, in the order they completed (bounded).</summary>
    public IReadOnlyList<string> Merged { get; init; } = [];

    /// <summary>True when a person (or autounmask) must change configuration: retrying as is cannot help.</summary>
    public bool NeedsConfiguration => Class is OutcomeClass.CircularDependency or OutcomeClass.UseChangeRequired
        or OutcomeClass.KeywordChangeRequired or OutcomeClass.MaskedPackage or OutcomeClass.LicenseRequired
        or OutcomeClass.SlotConflict or OutcomeClass.Blocker or OutcomeClass.UnknownAtom;

    /// <summary>True for failures a retry may cure: downloads and interruptions.</summary>
    public bool IsTransient => Class is OutcomeClass.FetchFailure or OutcomeClass.Interrupted;
}

public static class OutcomeClasses
{
    /// <summary>The kebab-case name used in JSON reports ("build-failure").</summary>
    public static string Name(OutcomeClass value) => JsonNamingPolicy.KebabCaseLower.ConvertName(value.ToString());
}
