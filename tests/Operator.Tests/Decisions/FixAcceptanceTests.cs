using Gentoo.Entities.V1Alpha1;
using Gentoo.Operator.Decisions;

namespace Gentoo.Operator.Tests.Decisions;

public sealed class FixAcceptanceTests
{
    private static readonly List<ProposedFix> Proposed =
    [
        new() { Number = 1, Class = FailureClass.KeywordChangeRequired, File = "package.accept_keywords", Lines = ["=app-misc/nightly-0.9 ~amd64"] },
        new() { Number = 2, Class = FailureClass.UseChangeRequired, File = "package.use", Lines = [">=media-libs/mesa-24 vulkan"] },
    ];

    [Theory]
    [InlineData(KeywordScope.Version, "=app-misc/nightly-0.9 ~amd64")]
    [InlineData(KeywordScope.Slot, "app-misc/nightly:0 ~amd64")]
    [InlineData(KeywordScope.Package, "app-misc/nightly ~amd64")]
    public void Keyword_lines_are_written_at_the_asked_width(KeywordScope scope, string expected) =>
        FixAcceptance.Rescope(scope == KeywordScope.Slot ? "app-misc/nightly:0 ~amd64" : "=app-misc/nightly-0.9 ~amd64", scope).ShouldBe(expected);

    [Fact]
    public void A_person_picks_fixes_by_number_or_all_and_a_wrong_number_names_the_valid_ones()
    {
        FixAcceptance.TrySelect("2, 1", Proposed, out var chosen, out _).ShouldBeTrue();
        chosen.Select(f => f.Number).ShouldBe([2, 1]);
        FixAcceptance.TrySelect("all", Proposed, out chosen, out _).ShouldBeTrue();
        chosen.Count.ShouldBe(2);
        FixAcceptance.TrySelect("3", Proposed, out _, out var error).ShouldBeFalse();
        error.ShouldBe("annotation gentoobuilder.io/accept-fixes: '3' is not a proposed fix number (proposed: 1, 2); use numbers separated by commas, or all");
    }

    [Fact]
    public void Autounmask_accepts_what_its_policy_allows_and_not_the_same_fix_twice()
    {
        FixAcceptance.Automatic(AutounmaskPolicy.Never, KeywordScope.Slot, Proposed, null).ShouldBeEmpty();
        FixAcceptance.Automatic(AutounmaskPolicy.Keywords, KeywordScope.Package, Proposed, null).Single().Lines.ShouldBe(["app-misc/nightly ~amd64"]);
        FixAcceptance.Automatic(AutounmaskPolicy.KeywordsAndUse, KeywordScope.Package, Proposed, null).Count.ShouldBe(2);
        FixAcceptance.Automatic(AutounmaskPolicy.Keywords, KeywordScope.Package, Proposed, ["package.accept_keywords: app-misc/nightly ~amd64"]).ShouldBeEmpty();
    }

    [Fact]
    public void Accepted_fixes_add_to_what_was_accepted_before_without_repeating_a_line()
    {
        var data = FixAcceptance.Merge(new Dictionary<string, string> { ["package.use.fixes"] = ">=media-libs/mesa-24 vulkan\n" }, Proposed);

        data["package.use.fixes"].ShouldBe(">=media-libs/mesa-24 vulkan\n");
        data["package.accept_keywords.fixes"].ShouldBe("=app-misc/nightly-0.9 ~amd64\n");
    }
}
