using Gentoo.Operator.Decisions;

namespace Gentoo.Operator.Tests.Decisions;

public sealed class UpdatePreviewsTests
{
    [Fact]
    public void The_summary_lists_the_planned_packages_and_counts_those_the_report_left_out()
    {
        UpdatePreviews.Summary(new AgentReport { Step = AgentStep.Update, Result = AgentResult.Success, Atoms = ["dev-libs/nss-3.46", "www-client/firefox-128.1.0"] })
            .ShouldBe("a world update would merge 2 package(s): dev-libs/nss-3.46, www-client/firefox-128.1.0");
        UpdatePreviews.Summary(new AgentReport { Step = AgentStep.Update, Result = AgentResult.Success, Atoms = ["dev-libs/nss-3.46", "... 41 more"] })
            .ShouldBe("a world update would merge 42 package(s): dev-libs/nss-3.46 and 41 more");
        UpdatePreviews.Summary(new AgentReport { Step = AgentStep.Update, Result = AgentResult.Success }).ShouldBe("a world update would merge nothing: the builder is current");
        UpdatePreviews.Summary(null).ShouldContain("nothing");
    }
}
