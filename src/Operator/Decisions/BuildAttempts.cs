using Gentoo.Entities.V1Alpha1;
using Gentoo.Protocol;
using k8s.Models;

namespace Gentoo.Operator.Decisions;

/// <summary>The verdict on an attempt: the result, why, and what the agent reported.</summary>
public sealed record AttemptVerdict(AttemptOutcome Result, string Reason, string Message, int? ExitCode, AgentReport? Report)
{
    /// <summary>When the build container ended, as its node saw it (not when the operator noticed); null while it runs.</summary>
    public DateTime? Finished { get; init; }
}

/// <summary>Judges a build pod from what the API server shows of it: phase, conditions, the container's termination state and message.</summary>
public static class BuildAttempts
{
    /// <param name="nodes">The nodes as the operator knows them, by name (null for one that no longer exists); null judges the pod alone.</param>
    public static AttemptVerdict Judge(V1Pod pod, Func<string, V1Node?>? nodes = null)
    {
        var verdict = JudgePod(pod);
        return verdict.Result is AttemptOutcome.Pending or AttemptOutcome.Running && nodes is not null && NodeTrouble(pod, nodes) is { } trouble
            ? verdict with { Reason = Reasons.NodeUnreachable, Message = trouble }
            : verdict;
    }

    /// <summary>
    /// What a person should know of a pod whose node cannot be heard from, or null when its node is Ready. A pod on a
    /// lost node shows Running (nobody is there to say otherwise) and is never removed for good by Kubernetes alone: the
    /// taint manager's deletion waits for the kubelet that is gone. A new attempt elsewhere while it may still write the
    /// volumes would be two builds in one tree, so the operator waits, and says what a person can do.
    /// </summary>
    public static string? NodeTrouble(V1Pod pod, Func<string, V1Node?> nodes)
    {
        if (pod.Spec?.NodeName is not { Length: > 0 } name)
        {
            return null;
        }

        var remedy = $"the build goes on if the node comes back; if it is gone for good, delete it (kubectl delete node {name}), or, once it is surely off, "
            + $"the pod (kubectl delete pod {pod.Metadata.Name} --force --grace-period=0): the attempt then ends interrupted and the run goes on as its onFailure policy says, re-using every package already built";
        if (nodes(name) is not { } node)
        {
            return $"node {name} of pod {pod.Metadata.Name} no longer exists: the attempt ends interrupted once Kubernetes' pod garbage collector removes the pod";
        }

        var ready = node.Status?.Conditions?.FirstOrDefault(c => c.Type == "Ready");
        if (ready is null or { Status: "True" })
        {
            return null;
        }

        var since = ready.LastTransitionTime is { } changed ? $" since {changed.ToUniversalTime():yyyy-MM-dd HH:mm:ss}Z" : "";
        var why = string.Join(": ", new[] { ready.Reason, ready.Message }.Where(w => !string.IsNullOrEmpty(w)));
        var state = ready.Status == "Unknown" ? "has not been heard from" : "is not ready";
        return $"node {name} running pod {pod.Metadata.Name} {state}{since}{(why.Length > 0 ? $" ({why})" : "")}; {remedy}";
    }

    private static AttemptVerdict JudgePod(V1Pod pod)
    {
        var status = pod.Status;
        if (status?.Reason == "Evicted")
        {
            return new AttemptVerdict(AttemptOutcome.Transient, Reasons.Interrupted, $"the pod was evicted: {status.Message}", null, null);
        }

        var build = status?.ContainerStatuses?.FirstOrDefault(c => c.Name == AgentPod.Container);
        var terminated = build?.State?.Terminated;
        if (status?.Reason == "DeadlineExceeded")
        {
            // The kubelet stopped the pod at activeDeadlineSeconds (spec.timeout): what the agent reported on SIGTERM, if it got to.
            var deadline = pod.Spec?.ActiveDeadlineSeconds is { } seconds ? $" ({TimeSpan.FromSeconds(seconds):g})" : "";
            return new AttemptVerdict(AttemptOutcome.Transient, Reasons.Timeout,
                $"the attempt ran longer than spec.timeout{deadline} and was stopped; what it built is kept and the next attempt re-uses it", terminated?.ExitCode, AgentReport.Parse(terminated?.Message))
            {
                Finished = terminated?.FinishedAt,
            };
        }

        if (terminated is null)
        {
            if (status?.Phase is PodPhases.Failed or PodPhases.Unknown)
            {
                return new AttemptVerdict(AttemptOutcome.Transient, Reasons.Interrupted, $"the pod ended without a build result ({status.Phase}: {status.Reason} {status.Message})".TrimEnd(), null, null);
            }

            var scheduled = status?.Conditions?.FirstOrDefault(c => c.Type == "PodScheduled");
            if (scheduled is { Status: "False", Reason: "Unschedulable" })
            {
                var kernel = scheduled.Message?.Contains("affinity", StringComparison.OrdinalIgnoreCase) == true;
                return new AttemptVerdict(AttemptOutcome.Pending, kernel ? Reasons.NoNodeWithRequiredKernel : Reasons.Pending, scheduled.Message ?? "no node can take the build", null, null);
            }

            if (CannotStart(status) is { } stuck)
            {
                return stuck;
            }

            return status?.Phase == PodPhases.Running
                ? new AttemptVerdict(AttemptOutcome.Running, Reasons.Running, "building", null, null)
                : new AttemptVerdict(AttemptOutcome.Pending, Reasons.Pending, "waiting for the build pod to start", null, null);
        }

        var report = AgentReport.Parse(terminated.Message);
        var exitCode = terminated.ExitCode;
        return JudgeTerminated(terminated, report, exitCode) with { Finished = terminated.FinishedAt };
    }

    /// <summary>
    /// A container the kubelet cannot start: the image is not there and cannot be pulled, or the container cannot be made
    /// from the pod. The attempt waits (the kubelet keeps trying), saying which container, which image and why.
    /// </summary>
    private static AttemptVerdict? CannotStart(V1PodStatus? status)
    {
        var waiting = (status?.InitContainerStatuses ?? []).Concat(status?.ContainerStatuses ?? [])
            .FirstOrDefault(c => c.State?.Waiting?.Reason is "ErrImagePull" or "ImagePullBackOff" or "InvalidImageName" or "CreateContainerConfigError" or "CreateContainerError");
        if (waiting?.State.Waiting is not { } state)
        {
            return null;
        }

        var image = state.Reason is "ErrImagePull" or "ImagePullBackOff" or "InvalidImageName";
        return new AttemptVerdict(AttemptOutcome.Pending, image ? Reasons.ImagePullFailed : Reasons.ContainerConfigError,
            image
                ? $"container {waiting.Name} waits for image {waiting.Image} ({state.Reason}): {state.Message}"
                : $"container {waiting.Name} cannot be made ({state.Reason}): {state.Message}",
            null, null);
    }

    private static AttemptVerdict JudgeTerminated(V1ContainerStateTerminated terminated, AgentReport? report, int exitCode)
    {
        if (terminated.Reason == "OOMKilled")
        {
            return new AttemptVerdict(AttemptOutcome.NeedsOperator, "OutOfMemory",
                "the build ran out of memory: raise the builder's memory limit or lower its CPU limit (MAKEOPTS follows it), then resume", exitCode, report);
        }

        return exitCode switch
        {
            ExitCodes.Success => new AttemptVerdict(AttemptOutcome.Succeeded, Reasons.Succeeded, Built(report), exitCode, report),
            ExitCodes.NeedsOperator => new AttemptVerdict(AttemptOutcome.NeedsOperator, Outcomes.ReasonOf(report?.Outcome) ?? Reasons.Failed, Explain(report), exitCode, report),
            ExitCodes.Transient => new AttemptVerdict(AttemptOutcome.Transient, Outcomes.ReasonOf(report?.Outcome) ?? Reasons.Interrupted, Explain(report), exitCode, report),
            ExitCodes.AgentError => new AttemptVerdict(AttemptOutcome.AgentError, Reasons.AgentError, report?.Error ?? "the agent could not run the build; see the pod log", exitCode, report),
            137 or 143 => new AttemptVerdict(AttemptOutcome.Transient, Reasons.Interrupted, $"the build container was killed (exit {exitCode})", exitCode, report),
            _ => new AttemptVerdict(AttemptOutcome.AgentError, Reasons.AgentError, $"the build container exited {exitCode} without a report: {terminated.Message}".TrimEnd(' ', ':'), exitCode, report),
        };
    }

    /// <summary>What a successful attempt did: merged packages are either compiled now or re-used binary packages.</summary>
    public static string Built(AgentReport? report)
    {
        var merged = report?.PackagesMerged ?? 0;
        var reused = Math.Min(merged, report?.BinariesReused ?? 0);
        return merged == 0 ? "nothing to merge: everything asked for is installed and current"
            : $"built {merged - reused} package(s), {reused} re-used from binary packages";
    }

    /// <summary>One message for a person: what failed, where, and the fix emerge proposed.</summary>
    public static string Explain(AgentReport? report)
    {
        if (report is null)
        {
            return "the build failed without a report; see the pod log";
        }

        if (report.Outcome == Outcome.SigningFailure)
        {
            var package = report.Atoms.Count > 0 ? " for " + string.Join(", ", report.Atoms.Take(5)) : "";
            var detail = report.Error ?? (report.BuildLog is not null ? $"build log: {report.BuildLog}" : "see the pod log for gpg's own words");
            return $"signing failure{package}: gpg could not sign the binary package or Portage could not verify it (Portage verifies as GPG_VERIFY_USER_DROP, nobody); "
                + $"check the builder's spec.signing key (an unprotected secret key with a signing subkey), then resume; {detail}";
        }

        var what = report.Outcome is { } outcome ? Outcomes.Words(outcome) : "failure";
        var atoms = report.Atoms.Count > 0 ? " of " + string.Join(", ", report.Atoms.Take(5)) : "";
        var phase = report.Phase is null ? "" : $" in the {report.Phase} phase";
        var fix = report.Fixes.Count > 0
            ? "; emerge proposes: " + string.Join("; ", report.Fixes.Select(f => $"{f.File}: {f.Line}")) + " (kubectl gentoo resume RUN --accept N)"
            : report.BuildLog is not null ? $"; build log: {report.BuildLog}" : "";
        return $"{what}{atoms}{phase}{fix}";
    }
}
