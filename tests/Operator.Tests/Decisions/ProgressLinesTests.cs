using Gentoo.Operator.Decisions;

namespace Gentoo.Operator.Tests.Decisions;

public sealed class ProgressLinesTests
{
    [Fact]
    public void The_newest_progress_line_wins_over_older_ones_and_emerge_output()
    {
        var log = """
            >>> Emerging (1 of 2) dev-libs/nss-3.46::gentoo
            gentoo-builder-progress {"package":"dev-libs/nss-3.46","phase":"compile","done":0,"total":2}
            make -j4
            gentoo-builder-progress {"package":"dev-libs/nspr-4.35","phase":"install","done":1,"total":2}
            >>> Installing (2 of 2) dev-libs/nspr-4.35::gentoo
            """;

        var progress = ProgressLines.Last(log).ShouldNotBeNull();

        progress.Package.ShouldBe("dev-libs/nspr-4.35");
        progress.Phase.ShouldBe("install");
        progress.Done.ShouldBe(1);
        progress.Total.ShouldBe(2);
    }

    [Fact]
    public void A_cut_newest_line_falls_back_to_the_one_before()
    {
        var log = "gentoo-builder-progress {\"package\":\"a/b-1\",\"phase\":\"unpack\",\"done\":0,\"total\":1}\r\ngentoo-builder-progress {\"package\":\"a/c";

        ProgressLines.Last(log).ShouldNotBeNull().Package.ShouldBe("a/b-1");
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData(">>> Emerging (1 of 1) app-misc/hello-1::gentoo\n")]
    [InlineData("gentoo-builder-progress [1,2]\n")]
    public void No_progress_line_means_no_progress(string? log) => ProgressLines.Last(log).ShouldBeNull();
}
