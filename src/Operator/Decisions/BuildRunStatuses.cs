using System.Globalization;
using Gentoo.Entities.V1Alpha1;
using Gentoo.Runtime;

namespace Gentoo.Operator.Decisions;

/// <summary>Where one attempt ran.</summary>
public sealed record AttemptPlacement(int Number, string Pod, string? Node, string? NodeKernel, DateTime? Started);

/// <summary>What the reconciler should do after writing the status.</summary>
public enum NextStep
{
    /// <summary>Keep watching the running or pending attempt.</summary>
    Wait,

    /// <summary>Start the next attempt after a backoff (transient failure under policy Retry).</summary>
    Retry,

    /// <summary>Wait for a person (resume annotation) or for a change of spec.</summary>
    AwaitOperator,

    /// <summary>Nothing more will happen.</summary>
    Done,
}

/// <summary>
/// Turns an attempt's verdict into BuildRun status: the attempt record, phase, package counts, failure block, the
/// fixes emerge proposed (numbered, for resume --accept), and conditions following the Kubernetes conventions:
/// Ready summarizes; Reconciling, AwaitingOperator and Stalled exist only while true.
/// </summary>
public static class BuildRunStatuses
{
    /// <summary>
    /// Whether the run's newest attempt has started and has no verdict yet: its pod may be on the builder's volumes, so
    /// that pod's end is what the run waits for, whatever a view of the queue says.
    /// </summary>
    public static bool AttemptUnderWay(BuildRun run) =>
        run.Status?.AttemptCount is > 0 and var newest
        && run.Status.Attempts?.FirstOrDefault(a => a.Number == newest)?.Outcome is AttemptOutcome.Pending or AttemptOutcome.Running;

    public static NextStep Apply(BuildRun run, AttemptVerdict verdict, AttemptPlacement placement, DateTime now)
    {
        var status = run.Status;
        var generation = run.Metadata.Generation;
        status.ObservedGeneration = generation;
        status.StartTime ??= placement.Started ?? now;
        status.AttemptCount = Math.Max(status.AttemptCount ?? 0, placement.Number);
        var attempt = Record(status, placement);
        attempt.Outcome = verdict.Result;
        var report = verdict.Report;

        if (verdict.Result is AttemptOutcome.Pending or AttemptOutcome.Running)
        {
            status.Phase = verdict.Result == AttemptOutcome.Running ? BuildRunPhase.Running : BuildRunPhase.Pending;
            status.WaitingFor = null;
            status.Conditions = Conditions.MarkProgressing(status.Conditions, verdict.Reason, verdict.Message, generation, now);
            status.Duration = Duration(status.StartTime.Value, now);
            return NextStep.Wait;
        }

        // The container's own end, not the moment the operator looked (it may have been down meanwhile).
        var ended = verdict.Finished is { } finished && finished <= now ? finished : now;
        attempt.EndTime = ended;
        attempt.ExitCode = verdict.ExitCode;
        attempt.PackagesMerged = report?.PackagesMerged;
        attempt.Atom = report is { Atoms.Count: > 0 } ? report.Atoms[0] : null;
        attempt.FailureClass = Outcomes.FailureClassOf(report?.Outcome);
        status.Release = report?.Releases is { } releases ? releases.Made ?? releases.NotMade : status.Release;
        status.Packages = new PackageCounts
        {
            Built = (status.Packages?.Built ?? 0) + Math.Max(0, (report?.PackagesMerged ?? 0) - (report?.BinariesReused ?? 0)),
            Reused = (status.Packages?.Reused ?? 0) + (report?.BinariesReused ?? 0),
            // The packages failing now: the last attempt's, not a sum over attempts that each retried the same ones.
            Failed = verdict.Result == AttemptOutcome.Succeeded ? 0 : report?.AtomCount ?? 0,
        };
        if (report?.RequiredKernel is { } kernel)
        {
            status.RequiredKernel = new KernelRequirement { Version = kernel, Source = "Binaries", Files = report.KernelFiles.Take(20).ToList() };
        }

        status.Progress = null;
        status.Conditions = Conditions.Remove(status.Conditions, ConditionTypes.Reconciling);
        if (verdict.Result == AttemptOutcome.Succeeded)
        {
            status.Phase = BuildRunPhase.Succeeded;
            status.Failure = null;
            status.CompletionTime = ended;
            status.Duration = Duration(status.StartTime.Value, ended);
            status.Conditions = Conditions.Remove(status.Conditions, ConditionTypes.AwaitingOperator);
            status.Conditions = Conditions.Remove(status.Conditions, ConditionTypes.Stalled);
            status.Conditions = Conditions.MarkTrue(status.Conditions, ConditionTypes.Ready, verdict.Reason, verdict.Message, generation, now);
            return NextStep.Done;
        }

        status.Failure = new FailureInfo
        {
            Class = attempt.FailureClass ?? FailureClass.Unknown,
            Atom = attempt.Atom,
            Phase = report?.Phase,
            Message = verdict.Message,
            SuggestedFix = report?.Fixes.Select(f => f.Line).ToList(),
            BuildLog = report?.BuildLog,
            LogExcerpt = report?.Excerpt.TakeLast(40).ToList(),
        };
        status.ProposedFixes = report?.Fixes.Select((f, i) => new ProposedFix { Number = i + 1, Class = attempt.FailureClass, File = f.File, Lines = [f.Line] }).ToList();
        status.Conditions = Conditions.MarkFalse(status.Conditions, ConditionTypes.Ready, verdict.Reason, verdict.Message, generation, now);

        var policy = run.Spec.OnFailure?.Policy ?? FailurePolicy.AwaitOperator;
        var retries = run.Spec.OnFailure?.Retries ?? 3;
        if (verdict.Result == AttemptOutcome.Transient)
        {
            var failedAttempts = status.Attempts!.Count(a => a.Outcome == AttemptOutcome.Transient);
            if (policy == FailurePolicy.Retry && failedAttempts <= retries)
            {
                status.Phase = BuildRunPhase.Retrying;
                status.Conditions = Conditions.MarkTrue(status.Conditions, ConditionTypes.Reconciling, Reasons.Retrying,
                    $"{verdict.Message}; retry {failedAttempts} of {retries}", generation, now);
                return NextStep.Retry;
            }
        }

        if (NoProgress(status.Attempts!))
        {
            status.Phase = BuildRunPhase.Stalled;
            status.Conditions = Conditions.MarkTrue(status.Conditions, ConditionTypes.Stalled, Reasons.NoProgress,
                $"{attempt.Atom ?? "the build"} failed twice in a row the same way, or an attempt built nothing new: change the configuration or the spec; resuming as is will not help",
                generation, now);
        }

        if (policy == FailurePolicy.Fail)
        {
            status.Phase = BuildRunPhase.Failed;
            status.CompletionTime = ended;
            status.Conditions = Conditions.Remove(status.Conditions, ConditionTypes.AwaitingOperator);
            status.Duration = Duration(status.StartTime.Value, ended);
            return NextStep.Done;
        }

        status.Phase = status.Phase == BuildRunPhase.Stalled ? BuildRunPhase.Stalled : BuildRunPhase.AwaitingOperator;
        status.Conditions = Conditions.MarkTrue(status.Conditions, ConditionTypes.AwaitingOperator, verdict.Reason, verdict.Message, generation, now);
        status.Duration = Duration(status.StartTime.Value, ended);
        return NextStep.AwaitOperator;
    }

    /// <summary>A run a person stopped, once its pod is gone: Failed, reason Stopped; what it built stays in the PKGDIR.</summary>
    public static void Stopped(BuildRun run, DateTime now)
    {
        var status = run.Status;
        status.ObservedGeneration = run.Metadata.Generation;
        status.Phase = BuildRunPhase.Failed;
        status.Progress = null;
        status.StartTime ??= now;
        status.CompletionTime = now;
        status.Duration = Duration(status.StartTime.Value, now);
        if (status.Attempts?.LastOrDefault() is { EndTime: null } running)
        {
            running.EndTime = now;
            running.Outcome = AttemptOutcome.Transient; // stopped, not failed: nothing a person must fix
        }

        foreach (var type in new[] { ConditionTypes.Reconciling, ConditionTypes.AwaitingOperator, ConditionTypes.Stalled })
        {
            status.Conditions = Conditions.Remove(status.Conditions, type);
        }

        status.Conditions = Conditions.MarkFalse(status.Conditions, ConditionTypes.Ready, Reasons.Stopped,
            "stopped by a person (gentoobuilder.io/stop); what it built stays in the PKGDIR, kubectl gentoo retry runs it again", run.Metadata.Generation, now);
    }

    /// <summary>The same package failed the same way in the last two attempts, or the last failed attempt merged nothing after a previous attempt.</summary>
    public static bool NoProgress(IList<BuildAttempt> attempts)
    {
        // An interruption (an eviction, a deleted pod, a lost node, a kill) says nothing of the build: only attempts
        // that ended on a verdict of their own count. Two evictions in a row are no reason to stop resuming.
        var ended = attempts.Where(a => a.EndTime is not null && a.Outcome != AttemptOutcome.Succeeded
                                        && !(a.Outcome == AttemptOutcome.Transient && a.FailureClass is null)).ToList();
        if (ended.Count < 2)
        {
            return false;
        }

        var (previous, last) = (ended[^2], ended[^1]);
        var sameFailure = last.Atom is not null && last.Atom == previous.Atom && last.FailureClass == previous.FailureClass;
        var nothingNew = (last.PackagesMerged ?? 0) == 0 && last.FailureClass == previous.FailureClass;
        return sameFailure || nothingNew;
    }

    private static BuildAttempt Record(BuildRunStatus status, AttemptPlacement placement)
    {
        status.Attempts ??= new List<BuildAttempt>();
        var attempt = status.Attempts.FirstOrDefault(a => a.Number == placement.Number);
        if (attempt is null)
        {
            attempt = new BuildAttempt { Number = placement.Number };
            status.Attempts.Add(attempt);
        }

        attempt.Pod = placement.Pod;
        attempt.Node = placement.Node ?? attempt.Node;
        attempt.NodeKernel = placement.NodeKernel ?? attempt.NodeKernel;
        attempt.StartTime ??= placement.Started;
        return attempt;
    }

    /// <summary>"1h12m", "3m05s", "42s": the Duration printer column.</summary>
    public static string Duration(DateTime from, DateTime to)
    {
        var span = to - from;
        if (span < TimeSpan.Zero)
        {
            span = TimeSpan.Zero;
        }

        return span.TotalHours >= 1
            ? string.Create(CultureInfo.InvariantCulture, $"{(int)span.TotalHours}h{span.Minutes:00}m")
            : span.TotalMinutes >= 1
                ? string.Create(CultureInfo.InvariantCulture, $"{span.Minutes}m{span.Seconds:00}s")
                : string.Create(CultureInfo.InvariantCulture, $"{span.Seconds}s");
    }
}
