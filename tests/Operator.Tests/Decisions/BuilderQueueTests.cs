using System.Collections.Immutable;
using Gentoo.Entities.V1Alpha1;
using Gentoo.Operator.Decisions;
using k8s.Models;

namespace Gentoo.Operator.Tests.Decisions;

public sealed class BuilderQueueTests
{
    private static readonly DateTime T0 = new(2026, 11, 25, 2, 0, 0, DateTimeKind.Utc);

    private static BuildRun Run(string name, int minutes, BuildRunPhase? phase = null, int attempts = 0) => new()
    {
        Metadata = new V1ObjectMeta { Name = name, CreationTimestamp = T0.AddMinutes(minutes) },
        Spec = new BuildRunSpec { BuilderRef = new LocalReference { Name = "plasma" } },
        Status = new BuildRunStatus { Phase = phase, AttemptCount = attempts },
    };

    [Fact]
    public void The_started_run_holds_the_builder_even_when_an_older_one_waits()
    {
        var holder = BuilderQueue.Holder([Run("older", 0), Run("started", 5, BuildRunPhase.Running, 1), Run("newer", 9)]);

        holder!.Metadata.Name.ShouldBe("started");
        BuilderQueue.WaitingFor(Run("older", 0), holder).ShouldBe("queued: GentooBuilder plasma builds one BuildRun at a time, oldest first");
        BuilderQueue.WaitingFor(Run("started", 5), holder).ShouldBeNull();
    }

    [Fact]
    public void Without_a_started_run_the_oldest_goes_first_and_finished_runs_do_not_count()
    {
        BuilderQueue.Holder([Run("done", 0, BuildRunPhase.Succeeded, 1), Run("b", 7), Run("a", 3)])!.Metadata.Name.ShouldBe("a");
        BuilderQueue.Holder([Run("done", 0, BuildRunPhase.Failed, 2)]).ShouldBeNull();
        // Creation timestamps are whole seconds: runs made in one second go by name.
        BuilderQueue.Holder([Run("run-b", 3), Run("run-c", 3), Run("run-a", 3), Run("later", 4)])!.Metadata.Name.ShouldBe("run-a");
    }

    [Theory]
    [InlineData(null, false)]
    [InlineData("running", false)]
    [InlineData("waiting", false)]
    [InlineData("done", true)]
    [InlineData("failed", true)]
    [InlineData("deleted", true)]
    public void A_claim_on_the_volumes_stands_while_its_run_exists_unfinished(string? claimedBy, bool leftover)
    {
        BuildRun[] runs = [Run("running", 0, BuildRunPhase.Running, 1), Run("waiting", 1, BuildRunPhase.AwaitingOperator, 1), Run("done", 2, BuildRunPhase.Succeeded, 1), Run("failed", 3, BuildRunPhase.Failed, 2)];

        BuilderQueue.IsLeftoverClaim(claimedBy, runs.FirstOrDefault(r => r.Metadata.Name == claimedBy)).ShouldBe(leftover);
    }

    [Theory]
    [InlineData(BuildRunPhase.Running)]
    [InlineData(BuildRunPhase.Pending)]
    public void Of_two_started_runs_the_one_whose_attempt_is_under_way_holds_though_the_other_is_older(BuildRunPhase phase)
    {
        // Two open runs with attempts: what a newer run's start on a cache that lagged behind the older one leaves.
        BuilderQueue.Holder([Run("older", 0, BuildRunPhase.Queued, 1), Run("building", 5, phase, 2)])!.Metadata.Name.ShouldBe("building");
        BuilderQueue.Holder([Run("older", 0, BuildRunPhase.Queued, 1), Run("retrying", 5, BuildRunPhase.Retrying, 2)])!.Metadata.Name.ShouldBe("older");
    }

    [Fact]
    public void Only_the_run_that_held_the_builder_or_was_first_in_line_can_let_another_go_on()
    {
        BuildRun[] runs = [Run("building", 0, BuildRunPhase.Running, 1), Run("queued", 5, BuildRunPhase.Queued), Run("later", 9, BuildRunPhase.Queued)];

        BuilderQueue.Held(runs[0], runs).ShouldBeTrue();
        BuilderQueue.Held(runs[1], runs).ShouldBeFalse("a queued run's end or deletion frees nothing");
        BuilderQueue.Held(Run("done", 0, BuildRunPhase.Succeeded, 1), runs).ShouldBeFalse("a finished run held nothing any more");
        // Without a started run, the oldest waiting one is first in line: stopping it lets the next go on.
        BuilderQueue.Held(runs[1], runs[1..]).ShouldBeTrue();
        // Its deletion is judged on the run as it was: the deletion timestamp it carries by then does not count.
        var deleting = Run("building", 0, BuildRunPhase.Running, 1);
        deleting.Metadata.DeletionTimestamp = T0.AddHours(1);
        BuilderQueue.Held(deleting, runs).ShouldBeTrue();
    }

    [Fact]
    public void A_run_awaiting_a_person_keeps_the_builder()
    {
        BuilderQueue.Holder([Run("stuck", 0, BuildRunPhase.AwaitingOperator, 1), Run("next", 5)])!.Metadata.Name.ShouldBe("stuck");
    }

    [Fact]
    public void The_cache_s_queue_order_gives_the_same_holder_as_going_through_every_run()
    {
        // The cache files a builder's runs in BuilderQueue.Order and the queue then looks only at the first other run:
        // for any mix of runs, that must answer as going through all of them (in any order) does, and as the rule says.
        var random = new Random(18);
        BuildRunPhase?[] phases = [null, .. Enum.GetValues<BuildRunPhase>()];
        for (var round = 0; round < 400; round++)
        {
            var runs = Enumerable.Range(0, random.Next(0, 9)).Select(i =>
            {
                var run = Run($"run-{i}", random.Next(0, 4), phases[random.Next(phases.Length)], random.Next(0, 3));
                if (random.Next(5) == 0)
                {
                    run.Metadata.DeletionTimestamp = T0.AddHours(1);
                }

                return run;
            }).ToList();
            var shuffled = runs.OrderBy(_ => random.Next()).ToArray();
            var inOrder = ImmutableSortedSet.CreateRange(BuilderQueue.Order, runs);
            var expected = ByTheRule(runs);

            BuilderQueue.Holder(shuffled).ShouldBe(expected, $"round {round}");
            BuilderQueue.Holder(inOrder).ShouldBe(expected, $"round {round}");
            foreach (var run in runs)
            {
                // As the run was before a change: another state, a deletion under way, or just as it is.
                var before = Run(run.Metadata.Name, random.Next(0, 4), phases[random.Next(phases.Length)], random.Next(0, 3));
                if (random.Next(3) == 0)
                {
                    before.Metadata.DeletionTimestamp = T0.AddHours(2);
                }

                foreach (var candidate in new[] { run, before })
                {
                    var held = !(candidate.Status?.Phase).IsFinished()
                        && ByTheRule([.. runs.Where(r => r.Metadata.Name != candidate.Metadata.Name && IsOpen(r)), candidate], standIn: candidate) == candidate;
                    BuilderQueue.Held(candidate, shuffled).ShouldBe(held, $"round {round}, {candidate.Metadata.Name}");
                    BuilderQueue.Held(candidate, inOrder).ShouldBe(held, $"round {round}, {candidate.Metadata.Name} in the cache's order");
                }
            }
        }
    }

    private static bool IsOpen(BuildRun run) => run.Metadata.DeletionTimestamp is null && !(run.Status?.Phase).IsFinished();

    // The rule as the class documents it: the run under way, else one started, else the oldest waiting (ties by name).
    private static BuildRun? ByTheRule(IEnumerable<BuildRun> runs, BuildRun? standIn = null)
    {
        var open = runs.Where(r => r == standIn || IsOpen(r)).OrderBy(r => r.Metadata.CreationTimestamp).ThenBy(r => r.Metadata.Name, StringComparer.Ordinal).ToList();
        return open.FirstOrDefault(r => r.Status.AttemptCount > 0 && r.Status.Phase is BuildRunPhase.Pending or BuildRunPhase.Running)
            ?? open.FirstOrDefault(r => r.Status.AttemptCount > 0)
            ?? open.FirstOrDefault();
    }

    [Fact]
    public void Required_kernel_is_the_highest_of_specs_and_built_binaries()
    {
        var builder = new GentooBuilder
        {
            Spec = new GentooBuilderSpec { MinKernel = "6.1", KernelFromBinaries = true },
            Status = new GentooBuilderStatus { RequiredKernel = new KernelRequirement { Version = "6.6.0", Files = ["/usr/lib64/libQt6Core.so.6"] } },
        };
        var run = Run("r", 0);

        RequiredKernels.For(run, builder).ShouldBeEquivalentTo(new KernelRequirement { Version = "6.6.0", Source = "Binaries", Files = ["/usr/lib64/libQt6Core.so.6"] });
        builder.Spec.KernelFromBinaries = false;
        RequiredKernels.For(run, builder)!.Version.ShouldBe("6.1.0");
        run.Spec.MinKernel = "6.8";
        RequiredKernels.For(run, builder).ShouldBeEquivalentTo(new KernelRequirement { Version = "6.8.0", Source = "Spec" });
        RequiredKernels.For(Run("none", 0), new GentooBuilder()).ShouldBeNull();
    }
}
