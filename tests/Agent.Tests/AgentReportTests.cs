using System.Text;
using System.Text.Json;

namespace Gentoo.Agent.Tests;

public sealed class AgentReportTests
{
    [Fact]
    public void Termination_message_stays_valid_json_within_4_kib_and_keeps_the_outcome()
    {
        var report = new AgentReport
        {
            Step = AgentStep.Build,
            Result = AgentResult.NeedsOperator,
            Outcome = Outcome.BuildFailure,
            EmergeExitCode = 1,
            Atoms = Enumerable.Range(0, 300).Select(i => $"dev-libs/lib{i}-1.0").ToList(),
            Phase = "compile",
            PackagesMerged = 1234,
            BuildLog = "/var/log/portage/dev-libs:lib0-1.0:20261125-014024.log",
            Fixes = Enumerable.Range(0, 40).Select(i => new ReportFix("package.accept_keywords", $"dev-libs/lib{i}:0 ~amd64", false)).ToList(),
            Excerpt = Enumerable.Range(0, 60).Select(i => new string('x', 400) + i).ToList(),
        };

        var message = report.ToTerminationMessage();

        Encoding.UTF8.GetByteCount(message).ShouldBeLessThanOrEqualTo(4096);
        using var json = JsonDocument.Parse(message);
        json.RootElement.GetProperty("outcome").GetString().ShouldBe("build-failure");
        json.RootElement.GetProperty("result").GetString().ShouldBe("needs-operator");
        json.RootElement.GetProperty("phase").GetString().ShouldBe("compile");
        json.RootElement.GetProperty("packagesMerged").GetInt32().ShouldBe(1234);
        json.RootElement.GetProperty("atoms")[0].GetString().ShouldBe("dev-libs/lib0-1.0");
    }

    [Fact]
    public void A_long_planned_list_is_cut_with_one_note_counting_every_package_left_out()
    {
        var report = new AgentReport { Step = AgentStep.Update, Result = AgentResult.Success, Outcome = Outcome.Success, Atoms = Enumerable.Range(0, 400).Select(i => $"dev-libs/library-number-{i}-1.0").ToList() };

        using var json = JsonDocument.Parse(report.ToTerminationMessage());

        var atoms = json.RootElement.GetProperty("atoms").EnumerateArray().Select(a => a.GetString()!).ToList();
        var notes = atoms.Where(a => a.StartsWith("... ", StringComparison.Ordinal)).ToList();
        notes.ShouldHaveSingleItem();
        (atoms.Count - 1 + int.Parse(notes[0].Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture)).ShouldBe(400, "kept and left out add up to all planned packages");
    }

    [Fact]
    public void Small_report_is_not_cut()
    {
        var report = new AgentReport { Step = AgentStep.Check, Result = AgentResult.Success, Outcome = Outcome.Success, Excerpt = ["a", "b"] };

        report.ToTerminationMessage().ShouldBe(report.ToJson());
    }

    [Fact]
    public void The_wire_form_is_kebab_case_and_reads_back_as_written()
    {
        var report = new AgentReport { Step = AgentStep.Build, Result = AgentResult.NeedsOperator, Outcome = Outcome.KeywordChangeRequired, Fixes = [new ReportFix("package.accept_keywords", "dev-libs/nss:0 ~amd64", false)] };

        var json = report.ToJson();

        json.ShouldContain("\"step\":\"build\"");
        json.ShouldContain("\"result\":\"needs-operator\"");
        json.ShouldContain("\"outcome\":\"keyword-change-required\"");
        AgentReport.Parse(json).ShouldBe(report with { }, new ReportComparer());
        AgentReport.Parse("make: *** [Makefile:12: all] Error 1").ShouldBeNull("a log tail (FallbackToLogsOnError) is no report");
    }

    private sealed class ReportComparer : IEqualityComparer<AgentReport>
    {
        public bool Equals(AgentReport? x, AgentReport? y) => x?.ToJson() == y?.ToJson();

        public int GetHashCode(AgentReport obj) => obj.ToJson().GetHashCode(StringComparison.Ordinal);
    }
}
