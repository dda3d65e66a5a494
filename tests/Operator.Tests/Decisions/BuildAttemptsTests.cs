using Gentoo.Entities.V1Alpha1;
using Gentoo.Operator.Decisions;
using k8s.Models;

namespace Gentoo.Operator.Tests.Decisions;

public sealed class BuildAttemptsTests
{
    private static V1Pod Terminated(int exitCode, string? message, string reason = "Error") => new()
    {
        Status = new V1PodStatus
        {
            Phase = exitCode == 0 ? "Succeeded" : "Failed",
            ContainerStatuses = [new V1ContainerStatus { Name = "build", State = new V1ContainerState { Terminated = new V1ContainerStateTerminated { ExitCode = exitCode, Message = message, Reason = reason } } }],
        },
    };

    private const string KeywordReport = """
        {"step":"build","result":"needs-operator","outcome":"keyword-change-required","emergeExitCode":1,"atoms":["app-misc/nightly-0.9"],
         "packagesMerged":0,"binariesReused":0,"fixes":[{"file":"package.accept_keywords","line":"app-misc/nightly:0 ~amd64","temporary":false}],"excerpt":["x"]}
        """;

    [Fact]
    public void Needs_operator_exit_becomes_the_outcome_reason_with_the_proposed_fix()
    {
        var verdict = BuildAttempts.Judge(Terminated(10, KeywordReport));

        verdict.Result.ShouldBe(AttemptOutcome.NeedsOperator);
        verdict.Reason.ShouldBe("KeywordChangeRequired");
        verdict.Message.ShouldBe("keyword change required of app-misc/nightly-0.9; emerge proposes: package.accept_keywords: app-misc/nightly:0 ~amd64 (kubectl gentoo resume RUN --accept N)");
        verdict.Report!.Fixes.ShouldHaveSingleItem().Line.ShouldBe("app-misc/nightly:0 ~amd64");
    }

    [Theory]
    [InlineData(0, null, AttemptOutcome.Succeeded, "Succeeded")]
    [InlineData(20, """{"step":"build","result":"transient","outcome":"fetch-failure","atoms":["net-misc/downloader-1.0"]}""", AttemptOutcome.Transient, "FetchFailure")]
    [InlineData(30, """{"step":"build","result":"agent-error","error":"the root volume /mnt/gentoo is missing"}""", AttemptOutcome.AgentError, "AgentError")]
    [InlineData(143, "Exiting on signal 15", AttemptOutcome.Transient, "Interrupted")]
    [InlineData(2, "panic: something", AttemptOutcome.AgentError, "AgentError")]
    public void Exit_codes_map_to_what_happens_next(int exitCode, string? message, AttemptOutcome result, string reason)
    {
        var verdict = BuildAttempts.Judge(Terminated(exitCode, message));

        verdict.Result.ShouldBe(result);
        verdict.Reason.ShouldBe(reason);
        verdict.ExitCode.ShouldBe(exitCode);
    }

    [Fact]
    public void Out_of_memory_asks_a_person_to_change_resources()
    {
        var verdict = BuildAttempts.Judge(Terminated(137, null, "OOMKilled"));

        verdict.Result.ShouldBe(AttemptOutcome.NeedsOperator);
        verdict.Reason.ShouldBe("OutOfMemory");
    }

    [Fact]
    public void Eviction_and_lost_pods_are_transient()
    {
        BuildAttempts.Judge(new V1Pod { Status = new V1PodStatus { Phase = "Failed", Reason = "Evicted", Message = "The node was low on resource: ephemeral-storage." } })
            .Result.ShouldBe(AttemptOutcome.Transient);
        BuildAttempts.Judge(new V1Pod { Status = new V1PodStatus { Phase = "Unknown" } }).Result.ShouldBe(AttemptOutcome.Transient);
    }

    [Fact]
    public void Unschedulable_for_the_kernel_says_no_node_has_it()
    {
        var pod = new V1Pod
        {
            Status = new V1PodStatus
            {
                Phase = "Pending",
                Conditions = [new V1PodCondition { Type = "PodScheduled", Status = "False", Reason = "Unschedulable", Message = "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector." }],
            },
        };

        var verdict = BuildAttempts.Judge(pod);

        verdict.Result.ShouldBe(AttemptOutcome.Pending);
        verdict.Reason.ShouldBe("NoNodeWithRequiredKernel");
    }

    [Theory]
    [InlineData("ImagePullBackOff", "ImagePullFailed", "waits for image docker.io/gentoo/stage3:amd64 (ImagePullBackOff): Back-off pulling image")]
    [InlineData("CreateContainerConfigError", "ContainerConfigError", "cannot be made (CreateContainerConfigError): Back-off pulling image")]
    public void A_container_that_cannot_start_keeps_the_attempt_waiting_naming_the_image_and_the_kubelets_error(string kubeletReason, string reason, string message)
    {
        var pod = new V1Pod
        {
            Status = new V1PodStatus
            {
                Phase = "Pending",
                InitContainerStatuses =
                [
                    new V1ContainerStatus
                    {
                        Name = "root", Image = "docker.io/gentoo/stage3:amd64",
                        State = new V1ContainerState { Waiting = new V1ContainerStateWaiting { Reason = kubeletReason, Message = "Back-off pulling image" } },
                    },
                ],
            },
        };

        var verdict = BuildAttempts.Judge(pod);

        verdict.Result.ShouldBe(AttemptOutcome.Pending);
        verdict.Reason.ShouldBe(reason);
        verdict.Message.ShouldBe("container root " + message);
    }

    [Fact]
    public void A_log_tail_instead_of_a_report_is_not_mistaken_for_one()
    {
        AgentReport.Parse(">>> Emerging (1 of 1) dev-libs/nss-3.46").ShouldBeNull();
        AgentReport.Parse("{broken").ShouldBeNull();
        Outcomes.ReasonOf(Outcome.CircularDependency).ShouldBe("CircularDependency");
        Outcomes.ReasonOf(Outcome.SyncFailure).ShouldBe("SyncFailure", "an agent outcome of its own is a failure class of its own, never Unknown");
    }
}
