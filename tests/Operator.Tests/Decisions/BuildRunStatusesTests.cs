using Gentoo.Entities.V1Alpha1;
using Gentoo.Operator.Decisions;
using Gentoo.Runtime;
using k8s.Models;

namespace Gentoo.Operator.Tests.Decisions;

public sealed class BuildRunStatusesTests
{
    private static readonly DateTime T0 = new(2026, 11, 25, 2, 0, 0, DateTimeKind.Utc);

    private static BuildRun Run(FailurePolicy policy = FailurePolicy.AwaitOperator, int? retries = null) => new()
    {
        Metadata = new V1ObjectMeta { Name = "firefox", Generation = 3 },
        Spec = new BuildRunSpec { BuilderRef = new LocalReference { Name = "b" }, OnFailure = new FailureHandling { Policy = policy, Retries = retries } },
    };

    private static AttemptPlacement Attempt(int n) => new(n, $"firefox-{n}", "node-a", "6.6.30", T0);

    private static AttemptVerdict Verdict(AttemptOutcome result, string reason, Outcome? outcome = null, string atom = "www-client/firefox-128.0", int merged = 0, int reused = 0) =>
        new(result, reason, "message", result == AttemptOutcome.Succeeded ? 0 : 10, new AgentReport
        {
            Step = AgentStep.Build,
            Result = result == AttemptOutcome.Succeeded ? AgentResult.Success : AgentResult.NeedsOperator,
            Outcome = outcome,
            Atoms = [atom],
            PackagesMerged = merged,
            BinariesReused = reused,
            RequiredKernel = "3.17.0",
            Fixes = outcome == Outcome.KeywordChangeRequired ? [new ReportFix("package.accept_keywords", "dev-libs/nss:0 ~amd64", false)] : [],
        });

    [Fact]
    public void An_attempt_is_under_way_from_its_start_until_its_verdict_whatever_the_phase_says()
    {
        var run = Run();
        BuildRunStatuses.AttemptUnderWay(run).ShouldBeFalse("no attempt yet");

        BuildRunStatuses.Apply(run, new AttemptVerdict(AttemptOutcome.Pending, Reasons.Pending, "attempt 1 starting", null, null), Attempt(1), T0);
        BuildRunStatuses.AttemptUnderWay(run).ShouldBeTrue();
        run.Status.Phase = BuildRunPhase.Queued; // what a queue decided on a lagging view wrote
        BuildRunStatuses.AttemptUnderWay(run).ShouldBeTrue("the pod, not the phase, says whether it builds");

        BuildRunStatuses.Apply(run, Verdict(AttemptOutcome.Transient, "Interrupted"), Attempt(1), T0.AddMinutes(5));
        BuildRunStatuses.AttemptUnderWay(run).ShouldBeFalse("judged");
        run.Status.AttemptCount = 2; // a next attempt decided, its pod not started: nothing recorded for it yet
        BuildRunStatuses.AttemptUnderWay(run).ShouldBeFalse();
    }

    [Fact]
    public void Success_makes_ready_with_counts_kernel_and_no_abnormal_conditions()
    {
        var run = Run();
        BuildRunStatuses.Apply(run, new AttemptVerdict(AttemptOutcome.Running, Reasons.Running, "building", null, null), Attempt(1), T0.AddMinutes(1));

        var next = BuildRunStatuses.Apply(run, Verdict(AttemptOutcome.Succeeded, Reasons.Succeeded, Outcome.Success, merged: 10, reused: 4), Attempt(1), T0.AddMinutes(72));

        next.ShouldBe(NextStep.Done);
        run.Status.Phase.ShouldBe(BuildRunPhase.Succeeded);
        run.Status.ObservedGeneration.ShouldBe(3);
        run.Status.Packages!.Built.ShouldBe(6);
        run.Status.Packages.Reused.ShouldBe(4);
        run.Status.Duration.ShouldBe("1h12m");
        run.Status.RequiredKernel!.Version.ShouldBe("3.17.0");
        Conditions.IsTrue(run.Status.Conditions, ConditionTypes.Ready).ShouldBeTrue();
        run.Status.Conditions!.Select(c => c.Type).ShouldBe([ConditionTypes.Ready]);
        run.Status.Attempts.ShouldHaveSingleItem().Outcome.ShouldBe(AttemptOutcome.Succeeded);
    }

    [Fact]
    public void An_attempt_ends_when_its_container_ended_not_when_the_operator_looked()
    {
        var run = Run();
        var verdict = Verdict(AttemptOutcome.Succeeded, Reasons.Succeeded, Outcome.Success, merged: 2, reused: 2) with { Finished = T0.AddMinutes(30) };

        BuildRunStatuses.Apply(run, verdict, Attempt(1), T0.AddMinutes(95)); // the operator was down for an hour

        run.Status.Attempts!.Single().EndTime.ShouldBe(T0.AddMinutes(30));
        run.Status.CompletionTime.ShouldBe(T0.AddMinutes(30));
        run.Status.Duration.ShouldBe("30m00s");
        run.Status.Packages!.Built.ShouldBe(0, "both merged packages were re-used binary packages");
        BuildAttempts.Built(verdict.Report).ShouldBe("built 0 package(s), 2 re-used from binary packages");
    }

    [Fact]
    public void The_failed_count_is_what_fails_now_not_a_sum_over_attempts()
    {
        var run = Run(FailurePolicy.Retry, retries: 3);
        var failing = new AttemptVerdict(AttemptOutcome.Transient, Reasons.Interrupted, "message", 20, new AgentReport
        {
            Step = AgentStep.Build, Result = AgentResult.Transient, Outcome = Outcome.FetchFailure, Atoms = ["net-misc/downloader-1.0", "net-misc/fetcher-2.0", "... 3 more"],
        });

        BuildRunStatuses.Apply(run, failing, Attempt(1), T0);
        BuildRunStatuses.Apply(run, failing, Attempt(2), T0.AddMinutes(5));

        run.Status.Packages!.Failed.ShouldBe(5);
    }

    [Fact]
    public void Failure_awaits_a_person_with_the_reason_and_numbered_fixes()
    {
        var run = Run();

        var next = BuildRunStatuses.Apply(run, Verdict(AttemptOutcome.NeedsOperator, "KeywordChangeRequired", Outcome.KeywordChangeRequired, "dev-libs/nss-3.46"), Attempt(1), T0);

        next.ShouldBe(NextStep.AwaitOperator);
        run.Status.Phase.ShouldBe(BuildRunPhase.AwaitingOperator);
        var awaiting = Conditions.Find(run.Status.Conditions, ConditionTypes.AwaitingOperator)!;
        awaiting.Status.ShouldBe("True");
        awaiting.Reason.ShouldBe("KeywordChangeRequired");
        Conditions.Find(run.Status.Conditions, ConditionTypes.Ready)!.Status.ShouldBe("False");
        run.Status.Failure!.Class.ShouldBe(FailureClass.KeywordChangeRequired);
        run.Status.Failure.Atom.ShouldBe("dev-libs/nss-3.46");
        run.Status.ProposedFixes.ShouldHaveSingleItem().Number.ShouldBe(1);
        Conditions.Find(run.Status.Conditions, ConditionTypes.Reconciling).ShouldBeNull();
    }

    [Fact]
    public void Transient_failures_retry_up_to_the_count_then_wait_for_a_person()
    {
        var run = Run(FailurePolicy.Retry, retries: 2);
        var fetch = Verdict(AttemptOutcome.Transient, "FetchFailure", Outcome.FetchFailure, "net-misc/a-1", merged: 3);

        BuildRunStatuses.Apply(run, fetch, Attempt(1), T0).ShouldBe(NextStep.Retry);
        run.Status.Phase.ShouldBe(BuildRunPhase.Retrying);
        BuildRunStatuses.Apply(run, fetch with { Report = fetch.Report! with { Atoms = ["net-misc/b-1"] } }, Attempt(2), T0).ShouldBe(NextStep.Retry);
        BuildRunStatuses.Apply(run, fetch with { Report = fetch.Report! with { Atoms = ["net-misc/c-1"] } }, Attempt(3), T0).ShouldBe(NextStep.AwaitOperator);
        run.Status.Phase.ShouldBe(BuildRunPhase.AwaitingOperator);
        run.Status.AttemptCount.ShouldBe(3);
    }

    [Fact]
    public void The_same_package_failing_twice_the_same_way_is_stalled()
    {
        var run = Run();
        var failure = Verdict(AttemptOutcome.NeedsOperator, "BuildFailure", Outcome.BuildFailure, "dev-libs/libparse-0.2", merged: 2);

        BuildRunStatuses.Apply(run, failure, Attempt(1), T0);
        Conditions.Find(run.Status.Conditions, ConditionTypes.Stalled).ShouldBeNull();
        BuildRunStatuses.Apply(run, failure, Attempt(2), T0.AddHours(1));

        run.Status.Phase.ShouldBe(BuildRunPhase.Stalled);
        Conditions.Find(run.Status.Conditions, ConditionTypes.Stalled)!.Reason.ShouldBe(Reasons.NoProgress);
        Conditions.IsTrue(run.Status.Conditions, ConditionTypes.AwaitingOperator).ShouldBeTrue();
    }

    [Fact]
    public void Interruptions_in_a_row_wait_for_a_person_to_resume_and_never_stall_the_run()
    {
        var run = Run();
        var evicted = new AttemptVerdict(AttemptOutcome.Transient, Reasons.Interrupted, "the pod was evicted: The node was low on resource: memory.", null, null);

        BuildRunStatuses.Apply(run, evicted, Attempt(1), T0).ShouldBe(NextStep.AwaitOperator);
        BuildRunStatuses.Apply(run, evicted, Attempt(2), T0.AddMinutes(5)).ShouldBe(NextStep.AwaitOperator);

        run.Status.Phase.ShouldBe(BuildRunPhase.AwaitingOperator, "resuming as is will help: nothing about the build failed");
        Conditions.Find(run.Status.Conditions, ConditionTypes.Stalled).ShouldBeNull();
    }

    [Fact]
    public void Policy_fail_ends_the_run()
    {
        var run = Run(FailurePolicy.Fail);

        BuildRunStatuses.Apply(run, Verdict(AttemptOutcome.NeedsOperator, "BuildFailure", Outcome.BuildFailure), Attempt(1), T0).ShouldBe(NextStep.Done);

        run.Status.Phase.ShouldBe(BuildRunPhase.Failed);
        Conditions.Find(run.Status.Conditions, ConditionTypes.AwaitingOperator).ShouldBeNull();
        run.Status.CompletionTime.ShouldBe(T0);
    }

    [Fact]
    public void No_node_with_the_kernel_is_said_while_pending()
    {
        var run = Run();

        BuildRunStatuses.Apply(run, new AttemptVerdict(AttemptOutcome.Pending, Reasons.NoNodeWithRequiredKernel, "0/3 nodes are available", null, null), Attempt(1), T0)
            .ShouldBe(NextStep.Wait);

        Conditions.Find(run.Status.Conditions, ConditionTypes.Ready)!.Reason.ShouldBe(Reasons.NoNodeWithRequiredKernel);
        Conditions.IsTrue(run.Status.Conditions, ConditionTypes.Reconciling).ShouldBeTrue();
    }
}
