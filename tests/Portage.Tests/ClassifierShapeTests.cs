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

/// <summary>Shapes of emerge output people meet that must never be taken for success.</summary>
public sealed class PlanConflictTests
{
    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(null)]
    public void A_plan_that_ends_in_unsatisfied_blocks_is_a_blocker_whatever_the_exit_code(int? exitCode)
    {
        var outcome = EmergeClassifier.Classify("""
            These are the packages that would be merged, in order:

            Calculating dependencies... done!
            [ebuild  N     ] media-video/ffmpeg-6.1.1::gentoo  0 KiB
            [blocks B      ] media-video/ffmpeg-compat ("media-video/ffmpeg-compat" is blocking media-video/ffmpeg-6.1.1)

            Total: 1 package (1 new), Size of downloads: 0 KiB
            Conflict: 1 block (1 unsatisfied)

            """, exitCode: exitCode);

        outcome.Class.ShouldBe(OutcomeClass.Blocker);
        outcome.Atoms.ShouldBe(["media-video/ffmpeg-6.1.1", "media-video/ffmpeg-compat"]);
    }

    [Fact]
    public void A_download_that_failed_verification_and_was_fetched_again_does_not_fail_a_build_that_succeeded()
    {
        var outcome = EmergeClassifier.Classify("""
            >>> Emerging (1 of 1) app-misc/greeter-1.0::demo
            !!! Fetched file: greeter-1.0.tar.gz VERIFY FAILED!
            !!! Reason: Filesize does not match recorded size
            Refetching... File renamed to '/var/cache/distfiles/greeter-1.0.tar.gz._checksum_failure_.x1'
             * greeter-1.0.tar.gz BLAKE2B SHA512 size ;-) ...     [ ok ]
            >>> Completed (1 of 1) app-misc/greeter-1.0::demo

            """, exitCode: 0);

        outcome.Class.ShouldBe(OutcomeClass.Success);
    }
}

/// <summary>Report shapes from other Portage versions, written after the ones cited in tests/Fixtures/public.</summary>
public sealed class OtherReportShapeTests
{
    [Fact]
    public void A_cycle_whose_way_out_comes_before_the_cycle_is_a_circular_dependency_with_its_use_change()
    {
        var outcome = EmergeClassifier.Classify("""
            It might be possible to break this cycle
            by applying the following change:
            - dev-libs/libmarkup-3.0 (Change USE: -doc)

            Note that this change can be reverted, once the package has been installed.

             * Error: circular dependencies:

            (app-text/docgen-1.4:0/0::demo, ebuild scheduled for merge) depends on
             (dev-libs/libmarkup-3.0:0/0::demo, ebuild scheduled for merge) (buildtime)
              (app-text/docgen-1.4:0/0::demo, ebuild scheduled for merge) (buildtime)

            """, exitCode: 1);

        outcome.Class.ShouldBe(OutcomeClass.CircularDependency);
        outcome.Fixes.ShouldBe([new ConfigurationFix("package.use", "=dev-libs/libmarkup-3.0 -doc", Temporary: true)]);
        outcome.Atoms.ShouldBe(["app-text/docgen-1.4", "dev-libs/libmarkup-3.0"]);
    }

    [Fact]
    public void A_slot_conflict_in_the_old_tuple_form_names_both_instances()
    {
        // The shape Portage 2.1.6 printed (as in a 2009 LinuxQuestions post copied at ribisaciaservi.netlify.app).
        var outcome = EmergeClassifier.Classify("""
            [ebuild     U ] app-text/poppler-bindings-0.10.5-r1 [0.10.4]

            !!! Multiple package instances within a single package slot have been pulled
            !!! into the dependency graph, resulting in a slot conflict:

            app-text/poppler-bindings:0

              ('installed', '/', 'app-text/poppler-bindings-0.10.4', 'nomerge') pulled in by
                =app-text/poppler-bindings-0.10.4 required by ('installed', '/', 'app-office/openoffice-3.0.1', 'nomerge')

              ('ebuild', '/', 'app-text/poppler-bindings-0.10.5-r1', 'merge') pulled in by
                app-text/poppler-bindings required by world

            """);

        outcome.Class.ShouldBe(OutcomeClass.SlotConflict);
        outcome.Atoms.ShouldBe(["app-text/poppler-bindings-0.10.4", "app-text/poppler-bindings-0.10.5-r1"]);
    }

    [Fact]
    public void Corruption_and_an_unreadable_eapi_are_masks_no_configuration_line_lifts()
    {
        var outcome = EmergeClassifier.Classify("""
            !!! All ebuilds that could satisfy "app-misc/greeter" have been masked.
            !!! One of the following masked packages is required to complete your request:
            - app-misc/greeter-1.1::demo (masked by: corruption)
            - app-misc/greeter-1.0::demo (masked by: EAPI 9)

            For more information, see the MASKED PACKAGES section in the emerge
            man page or refer to the Gentoo Handbook.

            """, exitCode: 1);

        outcome.Class.ShouldBe(OutcomeClass.MaskedPackage);
        outcome.Fixes.ShouldBeEmpty();
        outcome.Suggested.ShouldContain(s => s.Contains("sync the repository again", StringComparison.Ordinal));
        outcome.Suggested.ShouldContain(s => s.Contains("update sys-apps/portage", StringComparison.Ordinal));
    }

    [Fact]
    public void A_license_any_of_group_is_accepted_by_its_names()
    {
        var outcome = EmergeClassifier.Classify("""
            !!! All ebuilds that could satisfy "dev-java/oracle-jdk-bin" have been masked.
            !!! One of the following masked packages is required to complete your request:
            - dev-java/oracle-jdk-bin-1.8.0.202:1.8::gentoo (masked by: || ( Oracle-BCLA-JavaSE ) license(s))

            """, exitCode: 1);

        outcome.Class.ShouldBe(OutcomeClass.LicenseRequired);
        outcome.Fixes.ShouldHaveSingleItem().Line.ShouldEndWith(" Oracle-BCLA-JavaSE");
    }

    [Fact]
    public void An_error_inside_a_ci_log_with_timestamps_is_read_as_emerge_wrote_it()
    {
        var outcome = EmergeClassifier.Classify("""
            2024-05-02T08:15:11.4701234Z Calculating dependencies ... done!
            2024-05-02T08:15:11.4710000Z emerge: there are no ebuilds to satisfy "dev-libs/nothere".

            """, exitCode: 1);

        outcome.Class.ShouldBe(OutcomeClass.UnknownAtom);
        outcome.Atoms.ShouldBe(["dev-libs/nothere"]);
    }

    [Fact]
    public void A_build_inside_a_buildkit_log_is_read_as_emerge_wrote_it()
    {
        var outcome = EmergeClassifier.Classify("""
            #12 31.07 >>> Emerging (1 of 2) dev-libs/libgreet-2.1::demo
            #12 35.2 >>> Completed (1 of 2) dev-libs/libgreet-2.1::demo
            #12 35.30 >>> Emerging binary (2 of 2) app-misc/hello-1.0::demo
            #12 36.01 >>> Completed (2 of 2) app-misc/hello-1.0::demo
            #12 nonsense >>> Completed (3 of 3) app-misc/not-read-1.0::demo

            """, exitCode: 0);

        outcome.Class.ShouldBe(OutcomeClass.Success);
        outcome.Merged.ShouldBe(["dev-libs/libgreet-2.1", "app-misc/hello-1.0"]);
        outcome.BinariesReused.ShouldBe(1);
    }

    [Fact]
    public void Build_output_that_looks_like_a_merge_list_or_a_count_is_not_read_as_one()
    {
        var outcome = EmergeClassifier.Classify("""
            [ 50%] Building C object src/CMakeFiles/greet.dir/greet.c.o
            [100%] Linking C shared library libgreet.so
            >>> Emerging (1 of 99999999999) dev-libs/huge-1.0::demo
            >>> Emerging (١ of 2) dev-libs/arabic-1.0::demo
            >>> Completed (1 of 1)  dev-libs/spaced-1.0::demo
            >>> Completed (1 of 1) dev-libs/nbsp -1.0

            """, exitCode: 0);

        outcome.Class.ShouldBe(OutcomeClass.Success);
        outcome.Merged.ShouldBe(["dev-libs/nbsp"]);
        outcome.Atoms.ShouldBe(["dev-libs/nbsp"]);
    }
}
