using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;

namespace Gentoo.Protocol;

/// <summary>A fix proposed to a person or applied by autounmask: a line for a file under /etc/portage.</summary>
public sealed record ReportFix(string File, string Line, bool Temporary);

/// <summary>A release as reports carry it: what a person reads in `kubectl gentoo releases`.</summary>
public sealed record ReportRelease(string Id, DateTimeOffset Created, string? Run, int Packages, int Added, int Removed, int Changed, bool Partial);

/// <summary>What retention removed in one run: releases no longer kept, the package files only they held, the bytes freed.</summary>
public sealed record ReportPurge(int Releases, int Files, long Bytes);

/// <summary>
/// The releases on the binpkgs volume after a run: the one it made (if any), the published one, every kept one, and
/// what was purged. The volume is the record; reports carry it to the builder's status.
/// </summary>
public sealed record ReportReleases(string? Made, string? Published, IReadOnlyList<ReportRelease> Kept, ReportPurge? Purged)
{
    /// <summary>Why a successful run made no release (no Packages index, no installed package with a binary), if it did not.</summary>
    public string? NotMade { get; init; }
}

/// <summary>
/// What one agent run came to. The operator reads the compact form from the container's termination message (at most
/// 4 KiB, always valid JSON); the full form is written to the root volume next to the log. One type, written by the
/// agent and read by the operator: the agent is copied from the operator's own image, so both always agree on it.
/// </summary>
public sealed record AgentReport
{
    public const int TerminationMessageLimit = 4096;

    /// <summary>How many of the newest kept releases a report cut to its minimum still carries.</summary>
    public const int MinimalReleases = 12;

    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        PropertyNameCaseInsensitive = true,
        Converters =
        {
            new JsonStringEnumConverter<AgentStep>(JsonNamingPolicy.KebabCaseLower, allowIntegerValues: false),
            new JsonStringEnumConverter<AgentResult>(JsonNamingPolicy.KebabCaseLower, allowIntegerValues: false),
            new JsonStringEnumConverter<Outcome>(JsonNamingPolicy.KebabCaseLower, allowIntegerValues: false),
        },
        TypeInfoResolver = ProtocolJson.Default,
    };

    // Generated at compile time (ProtocolJson) and shaped by the options above: the operator is compiled to native code,
    // which cannot build a contract by reflection. A generated contract sets every init-only property in one
    // initializer, absent ones to null: the lists below turn a null into empty themselves.
    private static readonly JsonTypeInfo<AgentReport> Contract = (JsonTypeInfo<AgentReport>)Json.GetTypeInfo(typeof(AgentReport));

    public required AgentStep Step { get; init; }

    /// <summary>The exit code's meaning.</summary>
    public required AgentResult Result { get; init; }

    /// <summary>What the run came to, when it ran anything (build-failure, keyword-change-required, ...).</summary>
    public Outcome? Outcome { get; init; }

    public int? EmergeExitCode { get; init; }

    public IReadOnlyList<string> Atoms { get; init => field = value ?? []; } = [];

    public string? Phase { get; init; }

    public int PackagesMerged { get; init; }

    public int BinariesReused { get; init; }

    public string? BuildLog { get; init; }

    /// <summary>The agent's own log of this run on the root volume.</summary>
    public string? Log { get; init; }

    public string? RequiredKernel { get; init; }

    public IReadOnlyList<string> KernelFiles { get; init => field = value ?? []; } = [];

    public IReadOnlyList<ReportFix> Fixes { get; init => field = value ?? []; } = [];

    public IReadOnlyList<string> Excerpt { get; init => field = value ?? []; } = [];

    /// <summary>For bootstrap runs: the step that failed ("check" for the consistency check).</summary>
    public string? BootstrapStep { get; init; }

    /// <summary>For bootstrap runs: the steps that completed, in order.</summary>
    public IReadOnlyList<string>? CompletedSteps { get; init; }

    /// <summary>For build and publish runs: the releases on the binpkgs volume afterwards.</summary>
    public ReportReleases? Releases { get; init; }

    /// <summary>For agent errors: the one line that says what was wrong.</summary>
    public string? Error { get; init; }

    public DateTimeOffset Started { get; init; }

    public DateTimeOffset Finished { get; init; }

    public string ToJson() => JsonSerializer.Serialize(this, Contract);

    /// <summary>A termination message as a report; null when it is not the agent's (the log tail, with FallbackToLogsOnError).</summary>
    public static AgentReport? Parse(string? message)
    {
        if (string.IsNullOrWhiteSpace(message) || !message.TrimStart().StartsWith('{'))
        {
            return null;
        }

        try
        {
            return JsonSerializer.Deserialize(message, Contract);
        }
        catch (JsonException)
        {
            return null;
        }
    }

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

        var minimal = report with { Excerpt = [], Fixes = [], KernelFiles = [], Atoms = report.Atoms.Take(1).ToList(), BuildLog = null, Log = null, Error = Clip(report.Error, 512),
            Releases = report.Releases is { } releases ? releases with { Kept = releases.Kept.TakeLast(MinimalReleases).ToList(), NotMade = Clip(releases.NotMade, 256) } : null };
        return minimal.ToJson();
    }

    /// <summary>How many packages the atoms stand for: a cut list ends in "... N more", which counts N.</summary>
    public int AtomCount => Atoms.Sum(a => IsMore(a) && int.TryParse(a[4..^5], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var more) ? more : 1);

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
