using System.Globalization;
using Gentoo.Entities.V1Alpha1;
using Gentoo.Protocol;
using Gentoo.Operator.Desired;
using Gentoo.Runtime;

namespace Gentoo.Operator.Decisions;

/// <summary>What the bootstrap reconciler does after a verdict is written.</summary>
public enum BootstrapNext
{
    /// <summary>The pod is still pending or running.</summary>
    Wait,

    /// <summary>Start another bootstrap pod now (a cycle break was added, or the spec changed during the attempt).</summary>
    StartAttempt,

    /// <summary>Start another bootstrap pod after a backoff (fetch failure, lost pod).</summary>
    Retry,

    /// <summary>Steps and check passed: snapshot the root.</summary>
    Snapshot,

    /// <summary>A person must act: a resume token or a spec change continues.</summary>
    AwaitOperator,
}

/// <summary>
/// GentooBootstrap status from a bootstrap pod's verdict: completed steps (with the digest of what ran), the kernel the
/// bootstrapped binaries need, a circular dependency broken automatically once with autoBreakCycles or handed to a
/// person, and the phase and conditions a person and a GitOps tool read.
/// </summary>
public static class BootstrapStatuses
{
    /// <param name="bootstrap">The bootstrap; its status is changed in place.</param>
    /// <param name="verdict">The verdict on the newest bootstrap pod.</param>
    /// <param name="ran">The steps that pod was asked to run, in order.</param>
    /// <param name="now">The time of the write.</param>
    public static BootstrapNext Apply(GentooBootstrap bootstrap, AttemptVerdict verdict, IReadOnlyList<PlannedStep> ran, DateTime now)
    {
        var status = bootstrap.Status;
        var generation = bootstrap.Metadata.Generation;
        var report = verdict.Report;
        if (verdict.Result is AttemptOutcome.Pending or AttemptOutcome.Running)
        {
            status.Phase = BootstrapPhase.Bootstrapping;
            status.CurrentStep ??= ran.Count > 0 ? ran[0].Name : DesiredBootstrap.CheckStep;
            Progressing(bootstrap, verdict.Reason, $"{status.CurrentStep}: {verdict.Message}", now);
            return BootstrapNext.Wait;
        }

        // Only what ran for the current spec counts as done; a spec changed during the attempt is run again.
        var sameSpec = status.ObservedGeneration == generation;
        var completed = verdict.Result == AttemptOutcome.Succeeded ? ran.Select(s => s.Name).ToList() : report?.CompletedSteps?.ToList() ?? [];
        if (sameSpec)
        {
            foreach (var step in ran.Where(s => completed.Contains(s.Name)))
            {
                MarkCompleted(bootstrap, step);
            }
        }

        if (report?.RequiredKernel is { Length: > 0 } kernel)
        {
            status.RequiredKernel = new KernelRequirement { Version = kernel, Source = "bootstrap", Files = report.KernelFiles.Take(20).ToList() };
        }

        if (!sameSpec)
        {
            return BootstrapNext.StartAttempt;
        }

        status.Failure = null;
        switch (verdict.Result)
        {
            case AttemptOutcome.Succeeded:
                status.CurrentStep = null;
                status.Phase = BootstrapPhase.Snapshotting;
                Progressing(bootstrap, Reasons.Snapshotting, "steps and check passed; taking the snapshot builders are made from", now);
                return BootstrapNext.Snapshot;
            case AttemptOutcome.Transient:
                status.Phase = BootstrapPhase.Retrying;
                Progressing(bootstrap, Reasons.Retrying, $"{verdict.Message}; retrying", now);
                return BootstrapNext.Retry;
        }

        var failedAt = report?.BootstrapStep ?? status.CurrentStep ?? DesiredBootstrap.CheckStep;
        if (report?.Outcome == Outcome.CircularDependency && bootstrap.Spec.AutoBreakCycles == true && NewCycleBreak(bootstrap, report, failedAt) is { } applied)
        {
            status.AppliedCycleBreaks = [.. status.AppliedCycleBreaks ?? [], applied];
            status.CurrentStep = applied.Step;
            Progressing(bootstrap, "CycleBroken", $"circular dependency {applied.Cycle}: building {applied.UseChange} once in step {applied.Step}, then {failedAt} again", now);
            return BootstrapNext.StartAttempt;
        }

        status.Phase = BootstrapPhase.AwaitingOperator;
        status.CurrentStep = failedAt;
        var reason = report?.Outcome == Outcome.CircularDependency ? nameof(FailureClass.CircularDependency) : verdict.Reason;
        var message = $"step {failedAt}: {Explain(bootstrap, verdict)}";
        status.Failure = new FailureInfo
        {
            Class = Outcomes.FailureClassOf(report?.Outcome) ?? FailureClass.Unknown,
            Atom = report is { Atoms.Count: > 0 } ? report.Atoms[0] : null,
            Phase = report?.Phase,
            Message = message.Length > 4096 ? message[..4096] : message,
            SuggestedFix = report?.Fixes.Select(f => $"{f.File}: {f.Line}").Take(64).ToList(),
            BuildLog = report?.BuildLog,
            LogExcerpt = report?.Excerpt.TakeLast(200).ToList(),
        };
        status.Conditions = Conditions.Remove(status.Conditions, ConditionTypes.Reconciling);
        status.Conditions = Conditions.MarkTrue(status.Conditions, ConditionTypes.AwaitingOperator, reason, message, generation, now);
        status.Conditions = Conditions.MarkFalse(status.Conditions, ConditionTypes.Ready, reason, message, generation, now);
        return BootstrapNext.AwaitOperator;
    }

    /// <summary>The snapshot is usable: the bootstrap is Ready and builders can be made from it.</summary>
    public static void MarkReady(GentooBootstrap bootstrap, BootstrapSnapshot snapshot, string how, DateTime now)
    {
        var status = bootstrap.Status;
        status.Phase = BootstrapPhase.Ready;
        status.Snapshot = snapshot;
        status.Failure = null;
        status.Conditions = Conditions.Remove(status.Conditions, ConditionTypes.Reconciling);
        status.Conditions = Conditions.Remove(status.Conditions, ConditionTypes.AwaitingOperator);
        status.Conditions = Conditions.Remove(status.Conditions, ConditionTypes.Stalled);
        status.Conditions = Conditions.MarkTrue(status.Conditions, ConditionTypes.Ready, Reasons.Succeeded, how, bootstrap.Metadata.Generation, now);
    }

    /// <summary>Only a person can help: Stalled=True and Ready=False with the same reason; nothing is retried until the spec or the cluster changes.</summary>
    public static void Stall(GentooBootstrap bootstrap, string reason, string message, DateTime now)
    {
        var status = bootstrap.Status;
        var generation = bootstrap.Metadata.Generation;
        status.Conditions = Conditions.Remove(status.Conditions, ConditionTypes.Reconciling);
        status.Conditions = Conditions.MarkTrue(status.Conditions, ConditionTypes.Stalled, reason, message, generation, now);
        status.Conditions = Conditions.MarkFalse(status.Conditions, ConditionTypes.Ready, reason, message, generation, now);
    }

    /// <summary>Work is under way: Reconciling=True and Ready=False with the same reason.</summary>
    public static void Progressing(GentooBootstrap bootstrap, string reason, string message, DateTime now)
    {
        var status = bootstrap.Status;
        var generation = bootstrap.Metadata.Generation;
        status.Conditions = Conditions.Remove(status.Conditions, ConditionTypes.AwaitingOperator);
        status.Conditions = Conditions.Remove(status.Conditions, ConditionTypes.Stalled);
        status.Conditions = Conditions.MarkProgressing(status.Conditions, reason, message, generation, now);
    }

    private static void MarkCompleted(GentooBootstrap bootstrap, PlannedStep step)
    {
        var status = bootstrap.Status;
        status.CompletedStepDigests ??= new Dictionary<string, string>();
        status.CompletedStepDigests[step.Name] = DesiredBootstrap.Digest(bootstrap.Spec, step);
        var names = status.CompletedSteps?.Where(n => n != step.Name).ToList() ?? [];
        names.Add(step.Name);
        status.CompletedSteps = names;
    }

    /// <summary>The proposed USE change as a one-shot step, unless that very change was already tried (then a person decides).</summary>
    private static AppliedCycleBreak? NewCycleBreak(GentooBootstrap bootstrap, AgentReport report, string failedAt)
    {
        var fix = report.Fixes.FirstOrDefault(f => f.Temporary && f.File == "package.use");
        var applied = bootstrap.Status.AppliedCycleBreaks ?? [];
        if (fix is null || applied.Any(a => a.UseChange == fix.Line))
        {
            return null;
        }

        return new AppliedCycleBreak
        {
            Cycle = string.Join(" -> ", report.Atoms),
            UseChange = fix.Line,
            Step = "break-cycle-" + (applied.Count + 1).ToString(CultureInfo.InvariantCulture),
            Before = failedAt,
        };
    }

    private static string Explain(GentooBootstrap bootstrap, AttemptVerdict verdict)
    {
        var report = verdict.Report;
        if (report?.Outcome != Outcome.CircularDependency)
        {
            return verdict.Message;
        }

        var cycle = string.Join(" -> ", report.Atoms);
        var change = report.Fixes.FirstOrDefault(f => f.Temporary && f.File == "package.use")?.Line;
        if (change is null)
        {
            return $"circular dependency {cycle}; emerge proposed no USE change: add a bootstrap step that breaks it, then resume";
        }

        var tried = bootstrap.Status.AppliedCycleBreaks?.Any(a => a.UseChange == change) == true;
        return tried
            ? $"circular dependency {cycle} is still there after building {change} once; change the bootstrap steps, then resume"
            : $"circular dependency {cycle}; emerge proposes the USE change {change}: add a bootstrap step with it (or set autoBreakCycles), then resume";
    }
}
