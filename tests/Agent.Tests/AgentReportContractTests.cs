using Gentoo.Entities.V1Alpha1;
using Gentoo.Agent.Reports;
using Gentoo.Operator.Decisions;
using Gentoo.Portage.Emerge;
using Gentoo.Portage.Tests;
using k8s.Models;

namespace Gentoo.Agent.Tests;

/// <summary>What the agent writes as its termination message is what the operator reads, for real emerge outcomes.</summary>
public sealed class AgentReportContractTests
{
    private static V1Pod Terminated(int exitCode, string message) => new()
    {
        Status = new V1PodStatus
        {
            Phase = exitCode == 0 ? "Succeeded" : "Failed",
            ContainerStatuses = [new V1ContainerStatus { Name = AgentPod.Container, State = new V1ContainerState { Terminated = new V1ContainerStateTerminated { ExitCode = exitCode, Message = message, Reason = exitCode == 0 ? "Completed" : "Error" } } }],
        },
    };

    private static AgentReport ReportOf(string fixture, AgentResult result, int emergeExitCode)
    {
        var outcome = EmergeClassifier.Classify(File.ReadAllText(Fixtures.PathOf("portage", "logs", fixture + ".log")), exitCode: emergeExitCode);
        return AgentReports.FromOutcome(AgentStep.Build, result, outcome, emergeExitCode);
    }

    [Theory]
    [InlineData("01-success-build", AgentResult.Success, 0, ExitCodes.Success, AttemptOutcome.Succeeded)]
    [InlineData("09-keyword-change-autounmask", AgentResult.NeedsOperator, 1, ExitCodes.NeedsOperator, AttemptOutcome.NeedsOperator)]
    [InlineData("15-fetch-failure", AgentResult.Transient, 1, ExitCodes.Transient, AttemptOutcome.Transient)]
    public void The_operator_reads_back_what_the_agent_reported(string fixture, AgentResult result, int emergeExitCode, int agentExitCode, AttemptOutcome expected)
    {
        var report = ReportOf(fixture, result, emergeExitCode);

        var verdict = BuildAttempts.Judge(Terminated(agentExitCode, report.ToTerminationMessage()));

        verdict.Result.ShouldBe(expected);
        var read = verdict.Report.ShouldNotBeNull();
        read.Outcome.ShouldBe(report.Outcome);
        read.Atoms.ShouldBe(report.Atoms);
        read.PackagesMerged.ShouldBe(report.PackagesMerged);
        read.BinariesReused.ShouldBe(report.BinariesReused);
        read.Fixes.Select(f => (f.File, f.Line, f.Temporary)).ShouldBe(report.Fixes.Select(f => (f.File, f.Line, f.Temporary)));
    }

    [Fact]
    public void A_report_cut_to_the_termination_message_limit_still_reads_with_its_outcome_and_first_atom()
    {
        var report = ReportOf("09-keyword-change-autounmask", AgentResult.NeedsOperator, 1) with
        {
            Excerpt = Enumerable.Range(0, 500).Select(i => $"line {i}: " + new string('x', 80)).ToList(),
        };

        var message = report.ToTerminationMessage();
        var verdict = BuildAttempts.Judge(Terminated(10, message));

        System.Text.Encoding.UTF8.GetByteCount(message).ShouldBeLessThanOrEqualTo(AgentReport.TerminationMessageLimit);
        verdict.Result.ShouldBe(AttemptOutcome.NeedsOperator);
        verdict.Report.ShouldNotBeNull().Outcome.ShouldBe(report.Outcome);
        verdict.Report!.Atoms[0].ShouldBe(report.Atoms[0]);
    }

    [Fact]
    public void The_operator_reads_the_agents_progress_lines()
    {
        var log = ProgressLines.Format(new AgentProgress("kde-plasma/kwin-6.2.4", "compile", 41, 97)) + "\n"
            + ">>> Emerging (42 of 97) kde-plasma/kwin-6.2.4::gentoo\n";

        var progress = ProgressLines.Last(log).ShouldNotBeNull();

        (progress.Package, progress.Phase, progress.Done, progress.Total).ShouldBe(("kde-plasma/kwin-6.2.4", "compile", 41, 97));
    }
}
