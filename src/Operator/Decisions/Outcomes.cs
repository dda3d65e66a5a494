using Gentoo.Entities.V1Alpha1;
using Gentoo.Protocol;

namespace Gentoo.Operator.Decisions;

/// <summary>What the agent's outcomes mean in the API: one exhaustive mapping, so an outcome without a class does not compile.</summary>
public static class Outcomes
{
    /// <summary>The failure class of an outcome; null for success.</summary>
    public static FailureClass? FailureClassOf(Outcome outcome) => outcome switch
    {
        Outcome.Success => null,
        Outcome.CircularDependency => FailureClass.CircularDependency,
        Outcome.UseChangeRequired => FailureClass.UseChangeRequired,
        Outcome.KeywordChangeRequired => FailureClass.KeywordChangeRequired,
        Outcome.MaskedPackage => FailureClass.MaskedPackage,
        Outcome.LicenseRequired => FailureClass.LicenseRequired,
        Outcome.SlotConflict => FailureClass.SlotConflict,
        Outcome.Blocker => FailureClass.Blocker,
        Outcome.UnknownAtom => FailureClass.UnknownAtom,
        Outcome.FetchFailure => FailureClass.FetchFailure,
        Outcome.BuildFailure => FailureClass.BuildFailure,
        Outcome.SigningFailure => FailureClass.SigningFailure,
        Outcome.SyncFailure => FailureClass.SyncFailure,
        Outcome.Interrupted => FailureClass.Interrupted,
        Outcome.Unknown => FailureClass.Unknown,
    };

    public static FailureClass? FailureClassOf(Outcome? outcome) => outcome is { } known ? FailureClassOf(known) : null;

    /// <summary>The condition reason of an outcome: its failure class ("KeywordChangeRequired"), or Succeeded.</summary>
    public static string? ReasonOf(Outcome? outcome) => outcome is { } known ? FailureClassOf(known)?.ToString() ?? Reasons.Succeeded : null;

    /// <summary>The outcome in words for a message ("keyword change required").</summary>
    public static string Words(Outcome outcome) => System.Text.Json.JsonNamingPolicy.KebabCaseLower.ConvertName(outcome.ToString()).Replace('-', ' ');
}
