using Cronos;
using Gentoo.Entities.V1Alpha1;

namespace Gentoo.Operator.Decisions;

/// <summary>When a scheduled build is due: the newest missed occurrence (older misses are skipped, as a CronJob does) and the next one.</summary>
public sealed record ScheduleTimes(DateTime? Due, DateTime? Next);

/// <summary>
/// The autoBuild schedule, CronJob-like: standard five-field cron or a macro (@daily), in a time zone, never two
/// runs of a builder at once, a history of finished runs pruned to the limits, and suspend.
/// </summary>
public static class AutoBuilds
{
    public const string ScheduledByLabel = GroupVersion.Group + "/scheduled-by";

    /// <summary>Parses the schedule and time zone; the error names the field and what would be valid.</summary>
    public static bool TryParse(AutoBuild autoBuild, out CronExpression cron, out TimeZoneInfo zone, out string? error) =>
        TryParse(autoBuild.Schedule, autoBuild.TimeZone, "spec.autoBuild", out cron, out zone, out error);

    /// <param name="schedule">A cron expression or macro.</param>
    /// <param name="timeZone">An IANA time zone; empty means UTC.</param>
    /// <param name="field">Where both are in the spec, for the error.</param>
    public static bool TryParse(string schedule, string? timeZone, string field, out CronExpression cron, out TimeZoneInfo zone, out string? error)
    {
        cron = null!;
        zone = TimeZoneInfo.Utc;
        error = null;
        if (!CronExpression.TryParse(schedule, CronFormat.Standard, out var parsed))
        {
            error = $"{field}.schedule '{schedule}' is not a cron expression: expected five fields (minute hour day month weekday) or a macro such as @daily";
            return false;
        }

        cron = parsed;
        if (!string.IsNullOrEmpty(timeZone) && !TimeZoneInfo.TryFindSystemTimeZoneById(timeZone, out zone!))
        {
            zone = TimeZoneInfo.Utc;
            error = $"{field}.timeZone '{timeZone}' is not a known time zone: expected an IANA name such as Europe/Berlin";
            return false;
        }

        return true;
    }

    /// <summary>
    /// What in a builder's schedules admission could not refuse (a time zone this operator does not know, a range
    /// running backwards): the builder is Stalled on it at once, naming the field; null when every schedule reads.
    /// </summary>
    public static string? Problem(GentooBuilder builder)
    {
        string? error = null;
        var readable = (builder.Spec.AutoBuild is not { } auto || TryParse(auto, out _, out _, out error))
            && (builder.Spec.Sync?.Schedule is not { } sync || TryParse(sync, null, "spec.sync", out _, out _, out error));
        return readable ? null : error;
    }

    /// <param name="cron">The schedule.</param>
    /// <param name="zone">Its time zone.</param>
    /// <param name="since">The last time a run was scheduled (or the builder's creation).</param>
    /// <param name="now">Now, UTC.</param>
    public static ScheduleTimes Times(CronExpression cron, TimeZoneInfo zone, DateTime since, DateTime now)
    {
        since = DateTime.SpecifyKind(since, DateTimeKind.Utc);
        now = DateTime.SpecifyKind(now, DateTimeKind.Utc);
        DateTime? due = null;
        foreach (var occurrence in cron.GetOccurrences(since, now, zone, fromInclusive: false, toInclusive: true))
        {
            due = occurrence;
        }

        return new ScheduleTimes(due, cron.GetNextOccurrence(now, zone));
    }

    /// <summary>The run for an occurrence: its name is derived from the time, so a restart never schedules it twice.</summary>
    public static string RunName(string builder, DateTime due) => Desired.DesiredAgentPod.Name(builder, due.ToString("yyyyMMdd-HHmm", System.Globalization.CultureInfo.InvariantCulture));

    /// <summary>Finished scheduled runs beyond the history limits, oldest first; runs still open or awaiting a person are kept.</summary>
    public static IReadOnlyList<BuildRun> Prunable(IEnumerable<BuildRun> scheduled, AutoBuild autoBuild)
    {
        var finished = scheduled.Where(r => r.Metadata.DeletionTimestamp is null).OrderByDescending(r => r.Metadata.CreationTimestamp).ToList();
        return
        [
            .. finished.Where(r => r.Status?.Phase == BuildRunPhase.Succeeded).Skip(autoBuild.SuccessfulRunsHistoryLimit ?? 3),
            .. finished.Where(r => r.Status?.Phase == BuildRunPhase.Failed).Skip(autoBuild.FailedRunsHistoryLimit ?? 3),
        ];
    }
}
