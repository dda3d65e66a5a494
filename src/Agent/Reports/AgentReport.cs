using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;
using Gentoo.Portage.Emerge;

namespace Gentoo.Agent.Reports;

/// <summary>A fix proposed to a person or applied by autounmask: a line for a file under /etc/portage.</summary>
public sealed record ReportFix(string File, string Line, bool Temporary);

/// <summary>
/// What one agent run came to. The operator reads the compact form from the container's termination message
/// (at most 4 KiB, always valid JSON); the full form is written to the root volume next to the log.
/// </summary>
public sealed record AgentReport
{
    public const int TerminationMessageLimit = 4096;

    /// <summary>
    /// Prefix of the progress lines written to stderr while emerge runs (one JSON object each). They go to stderr so
    /// that a line never lands inside a half-written line of emerge's output; the operator reads them from the log.
    /// </summary>
    public const string ProgressPrefix = "gentoo-builder-progress ";

    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    public required string Step { get; init; }

    /// <summary>success, needs-operator, transient or agent-error: the exit code's meaning.</summary>
    public required string Result { get; init; }

    /// <summary>The emerge outcome class (build-failure, keyword-change-required, ...), when emerge ran.</summary>
    public string? Outcome { get; init; }

    public int? EmergeExitCode { get; init; }

    public IReadOnlyList<string> Atoms { get; init; } = [];

    public string? Phase { get; init; }

    public int PackagesMerged { get; init; }

    public int BinariesReused { get; init; }

    public string? BuildLog { get; init; }

    /// <summary>The agent's own log of this run on the root volume.</summary>
    public string? Log { get; init; }

    public string? RequiredKernel { get; init; }

    public IReadOnlyList<string> KernelFiles { get; init; } = [];

    public IReadOnlyList<ReportFix> Fixes { get; init; } = [];

    public IReadOnlyList<string> Excerpt { get; init; } = [];

    /// <summary>For bootstrap runs: the step that failed ("check" for the consistency check).</summary>
    public string? BootstrapStep { get; init; }

    /// <summary>For bootstrap runs: the steps that completed, in order.</summary>
    public IReadOnlyList<string>? CompletedSteps { get; init; }

    /// <summary>For agent errors: the one line that says what was wrong.</summary>
    public string? Error { get; init; }

    public DateTimeOffset Started { get; init; }

    public DateTimeOffset Finished { get; init; }

    public static AgentReport FromOutcome(string step, string result, EmergeOutcome outcome, int exitCode) => new()
    {
        Step = step,
        Result = result,
        Outcome = OutcomeClasses.Name(outcome.Class),
        EmergeExitCode = exitCode,
        Atoms = outcome.Atoms,
        Phase = outcome.Phase,
        PackagesMerged = outcome.PackagesMerged,
        BinariesReused = outcome.BinariesReused,
        BuildLog = outcome.BuildLog,
        Fixes = outcome.Fixes.Select(f => new ReportFix(f.File, f.Line, f.Temporary)).ToList(),
        Excerpt = outcome.Excerpt,
    };

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    /// <summary>One progress line, as the operator reads it into BuildRun status.progress.</summary>
    public static string ProgressLine(EmergeProgress progress) =>
        ProgressPrefix + JsonSerializer.Serialize(new { package = progress.Package, phase = progress.Phase, done = progress.Done, total = progress.Total });

    /// <summary>
    /// The report within <paramref name="limit"/> bytes: the excerpt shrinks first (oldest lines first), then the
    /// lists are cut with a note of how many were left out; the outcome, atoms' first entries and counts always stay.
    /// </summary>
    public string ToTerminationMessage(int limit = TerminationMessageLimit)
    {
        var report = this;
        foreach (var shrink in Shrinkers())
        {
            var json = report.ToJson();
            if (Encoding.UTF8.GetByteCount(json) <= limit)
            {
                return json;
            }

            report = shrink(report);
        }

        var minimal = report with { Excerpt = [], Fixes = [], KernelFiles = [], Atoms = report.Atoms.Take(1).ToList(), BuildLog = null, Log = null, Error = Clip(report.Error, 512) };
        return minimal.ToJson();
    }

    private static IEnumerable<Func<AgentReport, AgentReport>> Shrinkers()
    {
        for (var i = 0; i < 200; i++)
        {
            yield return r => r.Excerpt.Count > 0 ? r with { Excerpt = r.Excerpt.Skip(1).ToList() } : r with { KernelFiles = Cut(r.KernelFiles) };
        }

        for (var i = 0; i < 64; i++)
        {
            yield return r => r.Fixes.Count > 1 ? r with { Fixes = r.Fixes.Take(r.Fixes.Count - 1).ToList() } : r with { Atoms = Cut(r.Atoms) };
        }
    }

    /// <summary>Half the entries, then "... N more" counting every entry left out, including those an earlier cut left out.</summary>
    private static List<string> Cut(IReadOnlyList<string> values)
    {
        var entries = values.Where(v => !IsMore(v)).ToList();
        if (entries.Count <= 1)
        {
            return values.ToList();
        }

        var earlier = values.Where(IsMore).Sum(v => int.Parse(v.Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture));
        var kept = entries.Count / 2;
        return [.. entries.Take(kept), $"... {entries.Count - kept + earlier} more"];
    }

    private static bool IsMore(string value) => value.StartsWith("... ", StringComparison.Ordinal) && value.EndsWith(" more", StringComparison.Ordinal);

    private static string? Clip(string? text, int length) => text is null || text.Length <= length ? text : text[..length];
}
