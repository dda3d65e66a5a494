using CsCheck;
using Gentoo.Portage.Atoms;

namespace Gentoo.Portage.Tests;

public sealed class VersionTests
{
    // Orderings the Package Manager Specification and Portage's own comparison tests state.
    [Theory]
    [InlineData("6.0", "5.0")]
    [InlineData("5.0", "5")]
    [InlineData("1.0-r1", "1.0-r0")]
    [InlineData("1.0-r1", "1.0")]
    [InlineData("999999999999999999999999999999", "999999999999999999999999999998")]
    [InlineData("1.0.0", "1.0")]
    [InlineData("1.0.0", "1.0b")]
    [InlineData("1b", "1")]
    [InlineData("1b_p1", "1_p1")]
    [InlineData("1.1b", "1.1")]
    [InlineData("12.2.5", "12.2b")]
    [InlineData("1.0_p2", "1.0_pre2")]
    [InlineData("1.0_p2", "1.0_alpha2")]
    [InlineData("1.0_beta1", "1.0_alpha1")]
    [InlineData("1.0_rc3", "1.0_beta3")]
    [InlineData("1.0", "1.0_rc9")]
    [InlineData("1.0_p1", "1.0")]
    [InlineData("1.0_alpha_p", "1.0_alpha")]
    [InlineData("1.0_alpha", "1.0_alpha_beta")]
    [InlineData("1.1", "1.01")]
    [InlineData("1.001000000000000000002", "1.001000000000000000001")]
    [InlineData("1.0010000000000000001", "1.00100000000")]
    [InlineData("3.46", "3.45")]
    [InlineData("128.0.3", "128.0")]
    public void Greater_version_compares_greater(string greater, string lesser)
    {
        var a = PackageVersion.Parse(greater);
        var b = PackageVersion.Parse(lesser);

        a.CompareTo(b).ShouldBePositive();
        b.CompareTo(a).ShouldBeNegative();
        (a > b).ShouldBeTrue();
    }

    [Theory]
    [InlineData("4.0", "4.0")]
    [InlineData("1.0-r0", "1.0")]
    [InlineData("1.0", "1.0-r0")]
    [InlineData("1.0-r1", "1.0-r1")]
    [InlineData("1.01", "1.010")]
    public void Equal_versions_compare_equal(string a, string b)
    {
        PackageVersion.Parse(a).CompareTo(PackageVersion.Parse(b)).ShouldBe(0);
        PackageVersion.Parse(a).ShouldBe(PackageVersion.Parse(b));
    }

    [Theory]
    [InlineData("")]
    [InlineData("1.")]
    [InlineData(".1")]
    [InlineData("1.0-r")]
    [InlineData("1.0_gamma")]
    [InlineData("1.0AB")]
    [InlineData("1.0-1")]
    [InlineData("v1.0")]
    public void Invalid_version_is_refused_with_a_reason(string text)
    {
        PackageVersion.TryParse(text, out _, out var error).ShouldBeFalse();
        error.ShouldContain($"'{text}'");
    }

    private static readonly Gen<string> Versions =
        Gen.Select(
            Gen.Int[0, 30].Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)).Array[1, 4],
            Gen.OneOf(Gen.Const(""), Gen.Char['a', 'c'].Select(c => c.ToString())),
            Gen.Int[0, 4].Select(i => new[] { "_alpha", "_beta", "_pre", "_rc", "_p" }[i]).Select(Gen.OneOf(Gen.Const(""), Gen.Int[0, 3].Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture))), (s, n) => s + n).Array[0, 2],
            Gen.OneOf(Gen.Const(""), Gen.Int[0, 3].Select(r => $"-r{r}")),
            (numbers, letter, suffixes, revision) => string.Join('.', numbers) + letter + string.Concat(suffixes) + revision);

    [Fact]
    public void Comparison_is_a_total_order()
    {
        Gen.Select(Versions, Versions, Versions).Sample((a, b, c) =>
        {
            var (x, y, z) = (PackageVersion.Parse(a), PackageVersion.Parse(b), PackageVersion.Parse(c));
            Math.Sign(x.CompareTo(y)).ShouldBe(-Math.Sign(y.CompareTo(x)), $"{a} vs {b}");
            if (x.CompareTo(y) <= 0 && y.CompareTo(z) <= 0)
            {
                x.CompareTo(z).ShouldBeLessThanOrEqualTo(0, $"{a} <= {b} <= {c}");
            }
        }, iter: 20_000);
    }

    [Fact]
    public void Parse_then_print_gives_the_same_text()
    {
        Versions.Sample(text => PackageVersion.Parse(text).ToString().ShouldBe(text), iter: 5_000);
    }
}
