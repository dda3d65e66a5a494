using Gentoo.Portage.Binhost;
using Gentoo.Portage.Emerge;

namespace Gentoo.Portage.Tests;

/// <summary>Portage's gpg failures are their own outcome, naming the package, never a phase-less build failure.</summary>
public sealed class SigningFailureTests
{
    [Fact]
    public void A_package_portage_could_not_verify_is_a_signing_failure_of_that_package()
    {
        var outcome = EmergeClassifier.Classify("""
            >>> Emerging (1 of 1) sys-apps/fileinfo-5.45_p1::gentoo
            >>> Creating binpkg
            !!!
            gpg: keyblock resource '/run/gentoo-builder/gnupg/pubring.kbx': Permission denied
            gpg: Can't check signature: No public key
            !!! Invalid binary package: '/var/cache/binpkgs/sys-apps/fileinfo/fileinfo-5.45_p1-1.gpkg.tar', GnuPG verification failed
            >>> Failed to emerge sys-apps/fileinfo-5.45_p1::gentoo

            """, exitCode: 1);

        outcome.Class.ShouldBe(OutcomeClass.SigningFailure);
        outcome.Atoms.ShouldBe(["sys-apps/fileinfo-5.45_p1"]);
        outcome.Phase.ShouldBeNull();
        outcome.Excerpt.ShouldContain(l => l.Contains("Permission denied", StringComparison.Ordinal));
        OutcomeClasses.Name(outcome.Class).ShouldBe("signing-failure");
    }

    [Fact]
    public void A_package_gpg_could_not_sign_is_a_signing_failure_of_the_package_being_built()
    {
        var outcome = EmergeClassifier.Classify("""
            >>> Emerging (1 of 1) app-misc/greeter-1.0::demo
            >>> Creating binpkg
            !!!
            gpg: signing failed: No secret key
            portage.exception.GPGException: GPG signing failed

            """, exitCode: 1);

        outcome.Class.ShouldBe(OutcomeClass.SigningFailure);
        outcome.Atoms.ShouldBe(["app-misc/greeter-1.0"]);
    }

    [Theory]
    [InlineData("/var/cache/binpkgs/sys-apps/fileinfo/fileinfo-5.45_p1-1.gpkg.tar", "sys-apps/fileinfo-5.45_p1")]
    [InlineData("app-text/wordcount/wordcount-0.5-r1-12.gpkg.tar", "app-text/wordcount-0.5-r1")]
    [InlineData("/var/cache/binpkgs/dev-libs/nss-3.45.tbz2", "dev-libs/nss-3.45")]
    [InlineData("/var/cache/binpkgs/Packages", null)]
    [InlineData("fileinfo-5.45.gpkg.tar", null)]
    public void A_binary_packages_path_names_its_package(string path, string? cpv) => Gpkg.CpvOfPath(path).ShouldBe(cpv);
}
