using Gentoo.Portage.Kernels;

namespace Gentoo.Portage.Tests;

public sealed class KernelVersionTests
{
    [Theory]
    [InlineData("6.1.0-gentoo-dist", 6, 1, 0)]
    [InlineData("5.15.0-91-generic", 5, 15, 0)]
    [InlineData("6.6.30+rpt-rpi-v8", 6, 6, 30)]
    [InlineData("6.18.44-fc-v657", 6, 18, 44)]
    [InlineData("4.19.0rc1", 4, 19, 0)]
    [InlineData("3.17.0", 3, 17, 0)]
    [InlineData("6.1", 6, 1, 0)]
    [InlineData("5.10.0-28-amd64", 5, 10, 0)]
    [InlineData("6.8.0-1012-raspi", 6, 8, 0)]
    public void Uname_release_parses(string release, int major, int minor, int patch)
    {
        KernelVersion.Parse(release).ShouldBe(new KernelVersion(major, minor, patch));
    }

    [Theory]
    [InlineData("")]
    [InlineData("six")]
    [InlineData("6")]
    [InlineData("6.x")]
    public void Garbage_is_not_a_kernel(string text)
    {
        KernelVersion.TryParse(text, out _).ShouldBeFalse();
    }

    [Fact]
    public void Version_code_matches_the_kernel_headers_encoding_and_orders_as_integers()
    {
        KernelVersion.Parse("3.17.0").Code.ShouldBe(200960);
        KernelVersion.Parse("6.1.0").Code.ShouldBe(393472);
        KernelVersion.Parse("5.4.300").Code.ShouldBe((5 << 16) + (4 << 8) + 255);
        KernelVersion.FromCode(393472).ShouldBe(new KernelVersion(6, 1, 0));
        (KernelVersion.Parse("6.1.0").Code > KernelVersion.Parse("5.15.160").Code).ShouldBeTrue();
    }

    [Fact]
    public void Comparison_orders_by_major_minor_patch()
    {
        (KernelVersion.Parse("6.1.0") > KernelVersion.Parse("5.15.0-91-generic")).ShouldBeTrue();
        (KernelVersion.Parse("6.6.30+rpt-rpi-v8") > KernelVersion.Parse("6.6.3")).ShouldBeTrue();
        KernelVersion.Max(KernelVersion.Parse("3.2.0"), KernelVersion.Parse("3.17.0")).ToString().ShouldBe("3.17.0");
    }
}
