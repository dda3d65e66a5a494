using Gentoo.Entities.V1Alpha1;
using Gentoo.Operator.Decisions;
using Gentoo.Operator.Desired;
using Gentoo.Runtime;
using k8s.Models;

namespace Gentoo.Operator.Tests.Decisions;

public sealed class BootstrapDecisionsTests
{
    private static readonly DateTime Now = new(2026, 11, 25, 3, 0, 0, DateTimeKind.Utc);

    private static GentooBootstrap Bootstrap(bool autoBreakCycles = false) => new()
    {
        Metadata = new V1ObjectMeta { Name = "plasma", NamespaceProperty = "gentoo", Generation = 2 },
        Spec = new GentooBootstrapSpec
        {
            Stage3 = new Stage3Source { Image = "docker.io/gentoo/stage3:amd64-desktop-systemd" },
            Profile = "default/linux/amd64/23.0/desktop/plasma",
            BootstrapSteps =
            [
                new BootstrapStep { Name = "freetype-without-harfbuzz", Atoms = ["media-libs/freetype"], Use = ["-harfbuzz"] },
                new BootstrapStep { Name = "harfbuzz", Atoms = ["media-libs/harfbuzz"] },
            ],
            AutoBreakCycles = autoBreakCycles,
        },
        Status = new GentooBootstrapStatus { ObservedGeneration = 2, AttemptCount = 1, Phase = BootstrapPhase.Bootstrapping },
    };

    private static AttemptVerdict Verdict(AttemptOutcome result, Outcome? outcome = null, params ReportFix[] fixes) => new(result, "Reason", "message", 10,
        new AgentReport
        {
            Step = AgentStep.Bootstrap,
            Result = AgentResult.NeedsOperator,
            Outcome = outcome,
            Atoms = ["app-text/docgen-1.4", "dev-libs/libmarkup-3.0"],
            Fixes = fixes,
            BootstrapStep = "harfbuzz",
            CompletedSteps = ["freetype-without-harfbuzz"],
        });

    private static readonly ReportFix UseChange = new("package.use", "=dev-libs/libmarkup-3.0 -doc", Temporary: true);

    [Fact]
    public void The_plan_skips_steps_done_with_the_same_definition_and_reruns_changed_ones()
    {
        var bootstrap = Bootstrap();
        var all = DesiredBootstrap.AllSteps(bootstrap);
        bootstrap.Status.CompletedStepDigests = all.ToDictionary(s => s.Name, s => DesiredBootstrap.Digest(bootstrap.Spec, s));
        DesiredBootstrap.RemainingSteps(bootstrap).ShouldBeEmpty();

        bootstrap.Spec.BootstrapSteps![1].Use = ["-icu"];
        DesiredBootstrap.RemainingSteps(bootstrap).Select(s => s.Name).ShouldBe(["harfbuzz"]);

        bootstrap.Spec.Profile = "default/linux/amd64/23.0/desktop/plasma/systemd";
        DesiredBootstrap.RemainingSteps(bootstrap).Count.ShouldBe(2, "a new profile means every step runs again");
    }

    [Fact]
    public void A_steps_digest_is_the_one_earlier_versions_stored_so_completed_steps_are_not_run_again()
    {
        // Status.completedStepDigests outlives upgrades of the operator: the same definition must give the same digest.
        var bootstrap = Bootstrap();
        DesiredBootstrap.Digest(bootstrap.Spec, new PlannedStep("harfbuzz", ["media-libs/harfbuzz"], null, Oneshot: false, EmergeArgs: null))
            .ShouldBe("ab1e804910a6642c");
        DesiredBootstrap.Digest(bootstrap.Spec, new PlannedStep("cycle", [">=dev-libs/libmarkup-3.0", "<x11-libs/cairo-1.18"], ["-doc", "+icu"], Oneshot: true, EmergeArgs: ["--nodeps", "--jobs=2"]))
            .ShouldBe("52d3a9b3faa67a58");
    }

    [Fact]
    public void A_cycle_break_runs_just_before_the_step_that_met_the_cycle_with_its_use_change()
    {
        var bootstrap = Bootstrap();
        bootstrap.Status.AppliedCycleBreaks = [new AppliedCycleBreak { Step = "break-cycle-1", UseChange = "=dev-libs/libmarkup-3.0 -doc", Before = "harfbuzz" }];

        var steps = DesiredBootstrap.AllSteps(bootstrap);

        steps.Select(s => s.Name).ShouldBe(["freetype-without-harfbuzz", "break-cycle-1", "harfbuzz"]);
        steps[1].Atoms.ShouldBe(["=dev-libs/libmarkup-3.0"]);
        steps[1].Use.ShouldBe(["-doc"]);
        steps[1].Oneshot.ShouldBeTrue();
        DesiredBootstrap.Plan(bootstrap, steps).ShouldContain("\"name\": \"break-cycle-1\"");
    }

    [Fact]
    public void A_circular_dependency_without_auto_break_awaits_a_person_naming_cycle_step_and_change()
    {
        var bootstrap = Bootstrap();
        var next = BootstrapStatuses.Apply(bootstrap, Verdict(AttemptOutcome.NeedsOperator, Outcome.CircularDependency, UseChange), DesiredBootstrap.AllSteps(bootstrap), Now);

        next.ShouldBe(BootstrapNext.AwaitOperator);
        var awaiting = Conditions.Find(bootstrap.Status.Conditions, ConditionTypes.AwaitingOperator)!;
        awaiting.Reason.ShouldBe("CircularDependency");
        awaiting.Message.ShouldBe("step harfbuzz: circular dependency app-text/docgen-1.4 -> dev-libs/libmarkup-3.0; emerge proposes the USE change "
            + "=dev-libs/libmarkup-3.0 -doc: add a bootstrap step with it (or set autoBreakCycles), then resume");
        Conditions.Find(bootstrap.Status.Conditions, ConditionTypes.Ready)!.Status.ShouldBe("False");
        bootstrap.Status.CompletedSteps.ShouldBe(["freetype-without-harfbuzz"]);
        bootstrap.Status.Failure!.Class.ShouldBe(FailureClass.CircularDependency);
    }

    [Fact]
    public void With_auto_break_the_change_is_added_once_and_a_second_time_goes_to_a_person()
    {
        var bootstrap = Bootstrap(autoBreakCycles: true);
        var verdict = Verdict(AttemptOutcome.NeedsOperator, Outcome.CircularDependency, UseChange);

        BootstrapStatuses.Apply(bootstrap, verdict, DesiredBootstrap.AllSteps(bootstrap), Now).ShouldBe(BootstrapNext.StartAttempt);
        var applied = bootstrap.Status.AppliedCycleBreaks.ShouldHaveSingleItem();
        (applied.Step, applied.Before, applied.UseChange).ShouldBe(("break-cycle-1", "harfbuzz", "=dev-libs/libmarkup-3.0 -doc"));

        BootstrapStatuses.Apply(bootstrap, verdict, DesiredBootstrap.AllSteps(bootstrap), Now).ShouldBe(BootstrapNext.AwaitOperator);
        bootstrap.Status.AppliedCycleBreaks.ShouldHaveSingleItem();
    }

    [Fact]
    public void A_verdict_for_an_older_spec_records_nothing_and_starts_again()
    {
        var bootstrap = Bootstrap();
        bootstrap.Metadata.Generation = 3;

        BootstrapStatuses.Apply(bootstrap, Verdict(AttemptOutcome.Succeeded), DesiredBootstrap.AllSteps(bootstrap), Now).ShouldBe(BootstrapNext.StartAttempt);
        bootstrap.Status.CompletedSteps.ShouldBeNull();
    }

    [Fact]
    public void Success_completes_every_planned_step_and_moves_on_to_the_snapshot()
    {
        var bootstrap = Bootstrap();
        var next = BootstrapStatuses.Apply(bootstrap, Verdict(AttemptOutcome.Succeeded) with { Report = new AgentReport { Step = AgentStep.Bootstrap, Result = AgentResult.Success, RequiredKernel = "6.1.0" } },
            DesiredBootstrap.AllSteps(bootstrap), Now);

        next.ShouldBe(BootstrapNext.Snapshot);
        bootstrap.Status.Phase.ShouldBe(BootstrapPhase.Snapshotting);
        bootstrap.Status.CompletedSteps.ShouldBe(["freetype-without-harfbuzz", "harfbuzz"]);
        bootstrap.Status.RequiredKernel!.Version.ShouldBe("6.1.0");
    }
}
