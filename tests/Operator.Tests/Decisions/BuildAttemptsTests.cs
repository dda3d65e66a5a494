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

    private static V1Pod RunningOn(string? node, string phase = "Running") => new()
    {
        Metadata = new V1ObjectMeta { Name = "world-1" },
        Spec = new V1PodSpec { NodeName = node },
        Status = new V1PodStatus { Phase = phase, ContainerStatuses = [new V1ContainerStatus { Name = "build", State = new V1ContainerState { Running = new V1ContainerStateRunning() } }] },
    };

    private static V1Node Node(string status, string? reason = null, string? message = null) => new()
    {
        Metadata = new V1ObjectMeta { Name = "box" },
        Status = new V1NodeStatus { Conditions = [new V1NodeCondition { Type = "Ready", Status = status, Reason = reason, Message = message, LastTransitionTime = new DateTime(2026, 12, 2, 3, 4, 5, DateTimeKind.Utc) }] },
    };

    [Fact]
    public void A_running_build_on_a_node_that_is_not_heard_from_still_runs_and_says_which_node_since_when_and_what_a_person_can_do()
    {
        var verdict = BuildAttempts.Judge(RunningOn("box"), _ => Node("Unknown", "NodeStatusUnknown", "Kubelet stopped posting node status."));

        verdict.Result.ShouldBe(AttemptOutcome.Running, "the pod may still build: the attempt is not over");
        verdict.Reason.ShouldBe(Reasons.NodeUnreachable);
        verdict.Message.ShouldStartWith("node box running pod world-1 has not been heard from since 2026-12-02 03:04:05Z (NodeStatusUnknown: Kubelet stopped posting node status.);");
        verdict.Message.ShouldContain("kubectl delete node box");
        verdict.Message.ShouldContain("kubectl delete pod world-1 --force --grace-period=0");
    }

    [Fact]
    public void A_node_that_reports_not_ready_or_is_gone_is_named_and_a_ready_one_or_an_unscheduled_pod_changes_nothing()
    {
        BuildAttempts.Judge(RunningOn("box"), _ => Node("False", "KubeletNotReady", "container runtime is down")).Message
            .ShouldStartWith("node box running pod world-1 is not ready since 2026-12-02 03:04:05Z (KubeletNotReady: container runtime is down);");
        BuildAttempts.Judge(RunningOn("box"), _ => null).Message.ShouldStartWith("node box of pod world-1 no longer exists");
        BuildAttempts.Judge(RunningOn("box"), _ => Node("True")).Reason.ShouldBe(Reasons.Running);
        BuildAttempts.Judge(RunningOn(null, "Pending"), _ => null).Reason.ShouldBe(Reasons.Pending);
        BuildAttempts.Judge(Terminated(0, null), _ => null).Result.ShouldBe(AttemptOutcome.Succeeded, "what the node reported before it went stands");
    }
}
