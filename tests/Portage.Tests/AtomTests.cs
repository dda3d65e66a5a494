using Gentoo.Portage.Atoms;

namespace Gentoo.Portage.Tests;

public sealed class AtomTests
{
    [Theory]
    [InlineData(">=cat/pkg-1.2.3-r1:slot/sub::repo[use,-flag]")]
    [InlineData("!!<dev-libs/openssl-3")]
    [InlineData("!app-misc/foo")]
    [InlineData("~www-client/firefox-128.0")]
    [InlineData("=dev-libs/nss-3.45*")]
    [InlineData("dev-qt/qtcore:5=")]
    [InlineData("dev-lang/python:*")]
    [InlineData("virtual/libc:=")]
    [InlineData("media-libs/mesa[vulkan?,!opengl?,X=,!wayland=,llvm(+),-test(-)]")]
    [InlineData("@world")]
    [InlineData("app-text/wordcount-0.5-r1::demo")]
    public void Parse_then_print_round_trips(string text)
    {
        if (text == "app-text/wordcount-0.5-r1::demo")
        {
            Atom.TryParse(text, out _, out var error).ShouldBeFalse(error);
            return;
        }

        Atom.Parse(text).ToString().ShouldBe(text);
    }

    [Fact]
    public void Parts_of_a_full_atom_are_exposed()
    {
        var atom = Atom.Parse(">=cat/pkg-1.2.3-r1:slot/sub::repo[use,-flag]");

        atom.Operator.ShouldBe(AtomOperator.GreaterOrEqual);
        atom.Key.ShouldBe("cat/pkg");
        atom.Version!.Text.ShouldBe("1.2.3-r1");
        atom.Slot.ShouldBe("slot");
        atom.SlotDependency.ShouldBe("slot/sub");
        atom.Repository.ShouldBe("repo");
        atom.UseDependencies.ShouldBe(["use", "-flag"]);
    }

    [Theory]
    [InlineData("firefox", "expected category/package")]
    [InlineData("www-client/firefox-128.0", "add an operator")]
    [InlineData(">=www-client/firefox", "needs a version")]
    [InlineData("~www-client/firefox-128.0-r1", "must not have one")]
    [InlineData(">=dev-libs/nss-3.45*", "allowed only with the '=' operator")]
    [InlineData("dev-libs/nss:", "slot '' is not valid")]
    [InlineData("dev-libs/nss::-bad", "repository '-bad'")]
    [InlineData("dev-libs/nss[ssl", "must end with ']'")]
    [InlineData("dev-libs/nss[+ssl]", "USE dependency '+ssl'")]
    [InlineData("-dev/nss", "category '-dev'")]
    [InlineData("@", "set name ''")]
    public void Invalid_atom_is_refused_naming_the_offending_part(string text, string says)
    {
        Atom.TryParse(text, out _, out var error).ShouldBeFalse();
        error.ShouldContain(says);
    }

    [Theory]
    [InlineData(">=dev-libs/nss-3.45", "3.46", true)]
    [InlineData(">=dev-libs/nss-3.45", "3.44", false)]
    [InlineData("=dev-libs/nss-3.45", "3.46", false)]
    [InlineData("=dev-libs/nss-3.45*", "3.45.1", true)]
    [InlineData("~dev-libs/nss-3.45", "3.45-r2", true)]
    [InlineData("<dev-libs/nss-3.45", "3.44.9", true)]
    [InlineData("dev-libs/nss", "99", true)]
    public void Atom_matches_versions_by_its_operator(string atom, string version, bool matches)
    {
        Atom.Parse(atom).Matches("dev-libs", "nss", PackageVersion.Parse(version)).ShouldBe(matches);
    }

    [Theory]
    [InlineData(AtomScope.Version, null, "=dev-libs/nss-3.45")]
    [InlineData(AtomScope.Slot, "0", "dev-libs/nss:0")]
    [InlineData(AtomScope.Slot, null, "dev-libs/nss")]
    [InlineData(AtomScope.Package, null, "dev-libs/nss")]
    public void Scoped_form_survives_version_bumps_as_asked(AtomScope scope, string? slot, string expected)
    {
        var scoped = Atom.Parse("=dev-libs/nss-3.45").Scoped(scope, slot);

        scoped.ShouldBe(expected);
        var bumped = PackageVersion.Parse("3.46");
        Atom.Parse(scoped).Matches("dev-libs", "nss", bumped, "0").ShouldBe(scope != AtomScope.Version);
    }
}
