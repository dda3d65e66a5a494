using Gentoo.Agent.Emerge;

namespace Gentoo.Agent.Tests;

public sealed class EmergeInvocationTests
{
    [Fact]
    public void Build_always_writes_and_reuses_binary_packages_and_never_asks()
    {
        var args = EmergeInvocation.Build(new BuildRequest(["www-client/firefox"], ["--update", "--ask", "-uDNav", "--buildpkg"], KeepGoing: true));

        args.ShouldBe(["--buildpkg", "--usepkg", "--ask=n", "--update", "-uDNv", "--keep-going", "www-client/firefox"]);
    }

    [Fact]
    public void Bootstrap_step_is_oneshot_with_binary_packages()
    {
        EmergeInvocation.BootstrapStep(["media-libs/freetype"], [], oneshot: true)
            .ShouldBe(["--buildpkg", "--usepkg", "--ask=n", "--oneshot", "media-libs/freetype"]);
    }

    [Fact]
    public void Cpu_limit_becomes_makeopts()
    {
        EmergeInvocation.Environment(6)["MAKEOPTS"].ShouldBe("-j6 -l6");
        EmergeInvocation.Environment(null).ContainsKey("MAKEOPTS").ShouldBeFalse();
        EmergeInvocation.Environment(null)["NOCOLOR"].ShouldBe("true");
    }
}
