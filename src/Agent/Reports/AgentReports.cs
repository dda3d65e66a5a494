using Gentoo.Portage.Emerge;
using Gentoo.Protocol;

namespace Gentoo.Agent.Reports;

/// <summary>The report of an emerge run, from what the classifier made of it.</summary>
public static class AgentReports
{
    public static AgentReport FromOutcome(AgentStep step, AgentResult result, EmergeOutcome outcome, int exitCode) => new()
    {
        Step = step,
        Result = result,
        Outcome = OutcomeOf(outcome.Class),
        EmergeExitCode = exitCode,
        Atoms = outcome.Atoms,
        Phase = outcome.Phase,
        PackagesMerged = outcome.PackagesMerged,
        BinariesReused = outcome.BinariesReused,
        BuildLog = outcome.BuildLog,
        Fixes = outcome.Fixes.Select(f => new ReportFix(f.File, f.Line, f.Temporary)).ToList(),
        Excerpt = outcome.Excerpt,
    };

    /// <summary>The classifier's class as the report says it: every class has its outcome, or this does not compile.</summary>
    public static Outcome OutcomeOf(OutcomeClass value) => value switch
    {
        OutcomeClass.Success => Outcome.Success,
        OutcomeClass.CircularDependency => Outcome.CircularDependency,
        OutcomeClass.UseChangeRequired => Outcome.UseChangeRequired,
        OutcomeClass.KeywordChangeRequired => Outcome.KeywordChangeRequired,
        OutcomeClass.MaskedPackage => Outcome.MaskedPackage,
        OutcomeClass.LicenseRequired => Outcome.LicenseRequired,
        OutcomeClass.SlotConflict => Outcome.SlotConflict,
        OutcomeClass.Blocker => Outcome.Blocker,
        OutcomeClass.UnknownAtom => Outcome.UnknownAtom,
        OutcomeClass.FetchFailure => Outcome.FetchFailure,
        OutcomeClass.BuildFailure => Outcome.BuildFailure,
        OutcomeClass.SigningFailure => Outcome.SigningFailure,
        OutcomeClass.Interrupted => Outcome.Interrupted,
        OutcomeClass.Unknown => Outcome.Unknown,
    };
}
