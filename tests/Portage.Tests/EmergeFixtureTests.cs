using System.Text.Json.Nodes;
using Gentoo.Portage.Emerge;

namespace Gentoo.Portage.Tests;

/// <summary>The console output real Portage printed for each outcome (tests/Fixtures/portage/logs), against what happened.</summary>
public sealed class EmergeFixtureTests
{
    public static TheoryData<string> Logs() =>
        new(Directory.GetFiles(Fixtures.PathOf("portage", "logs"), "*.log").Select(Path.GetFileNameWithoutExtension).Order()!);

    [Theory]
    [MemberData(nameof(Logs))]
    public async Task Classification_matches_what_happened(string name)
    {
        var expected = JsonNode.Parse(await File.ReadAllTextAsync(Fixtures.PathOf("portage", "logs", name + ".expected.json")))!;
        var exitCode = expected["exitCode"]!.GetValue<int>();

        foreach (var hint in new int?[] { exitCode, null })
        {
            await using var log = File.OpenRead(Fixtures.PathOf("portage", "logs", name + ".log"));
            var outcome = await EmergeClassifier.ClassifyAsync(log, exitCode: hint);

            var because = $"{name} (exit code {(hint is null ? "unknown" : hint)})";
            OutcomeClasses.Name(outcome.Class).ShouldBe(expected["class"]!.GetValue<string>(), because);
            outcome.Atoms.ShouldBe(expected["atoms"]!.AsArray().Select(a => a!.GetValue<string>()).ToList(), because);
            outcome.Phase.ShouldBe(expected["phase"]?.GetValue<string>(), because);
            outcome.PackagesMerged.ShouldBe(expected["packagesMerged"]!.GetValue<int>(), because);
            outcome.BinariesReused.ShouldBe(expected["binariesReused"]!.GetValue<int>(), because);
            outcome.Suggested.ShouldBe(expected["suggested"]!.AsArray().Select(a => a!.GetValue<string>()).ToList(), because);
        }
    }

    [Theory]
    [InlineData("16-build-failure-configure", "/var/log/portage/app-text:mdconv-1.1:")]
    [InlineData("17-build-failure-compile", "/var/log/portage/dev-libs:libparse-0.2:20261125-014024.log")]
    [InlineData("15-fetch-failure", "/var/log/portage/net-misc:downloader-1.0:20261125-014021.log")]
    public async Task Build_log_path_is_the_one_portage_names(string name, string path)
    {
        await using var log = File.OpenRead(Fixtures.PathOf("portage", "logs", name + ".log"));

        var outcome = await EmergeClassifier.ClassifyAsync(log);

        outcome.BuildLog.ShouldNotBeNull().ShouldStartWith(path);
    }

    [Fact]
    public async Task Build_failure_excerpt_holds_the_compiler_error_and_the_die_message()
    {
        await using var log = File.OpenRead(Fixtures.PathOf("portage", "logs", "17-build-failure-compile.log"));

        var outcome = await EmergeClassifier.ClassifyAsync(log);

        outcome.Excerpt.ShouldContain(l => l.Contains("error: expected", StringComparison.Ordinal));
        outcome.Excerpt.ShouldContain(l => l.Contains("compilation of parse.c failed", StringComparison.Ordinal));
        outcome.Excerpt.ShouldAllBe(l => !l.Contains('\u001b'));
    }

    [Fact]
    public async Task Cycle_proposes_a_temporary_use_change_as_configuration()
    {
        await using var log = File.OpenRead(Fixtures.PathOf("portage", "logs", "05-circular-dependency.log"));

        var outcome = await EmergeClassifier.ClassifyAsync(log);

        outcome.Fixes.ShouldBe([new ConfigurationFix("package.use", "=dev-libs/libmarkup-3.0 -doc", Temporary: true)]);
        outcome.NeedsConfiguration.ShouldBeTrue();
    }

    [Theory]
    [InlineData(Atoms.AtomScope.Version, "=app-misc/nightly-0.9 ~amd64")]
    [InlineData(Atoms.AtomScope.Slot, "app-misc/nightly:0 ~amd64")]
    [InlineData(Atoms.AtomScope.Package, "app-misc/nightly ~amd64")]
    public async Task Keyword_fix_is_written_at_the_requested_scope(Atoms.AtomScope scope, string line)
    {
        foreach (var name in new[] { "08-keyword-masked-no-autounmask", "09-keyword-change-autounmask" })
        {
            await using var log = File.OpenRead(Fixtures.PathOf("portage", "logs", name + ".log"));
            // The slot as the agent finds it: in the ebuild repository the log was made with.
            var options = new ClassifierOptions { KeywordScope = scope, SlotOf = cpv => Repositories.EbuildRepositories.SlotOf([Fixtures.PathOf("portage", "ebuild-repo")], cpv) };

            var outcome = await EmergeClassifier.ClassifyAsync(log, options);

            outcome.Fixes.ShouldBe([new ConfigurationFix("package.accept_keywords", line)], name);
        }
    }

    [Theory]
    [InlineData("10-masked-package-mask", "package.unmask", "=app-misc/legacy-tool-3")]
    [InlineData("11-license-required", "package.license", "app-misc/closed-viewer Acme-EULA")]
    [InlineData("07-use-change-necessary", "package.use", ">=dev-libs/libimg-1.0 png")]
    public async Task Mask_license_and_use_problems_propose_configuration(string name, string file, string line)
    {
        await using var log = File.OpenRead(Fixtures.PathOf("portage", "logs", name + ".log"));

        var outcome = await EmergeClassifier.ClassifyAsync(log, new ClassifierOptions { KeywordScope = Atoms.AtomScope.Package });

        outcome.Fixes.ShouldContain(new ConfigurationFix(file, line));
    }

    [Fact]
    public async Task Chunk_boundaries_do_not_change_the_outcome()
    {
        var bytes = await File.ReadAllBytesAsync(Fixtures.PathOf("portage", "logs", "24-jobs2-interleaved-colour.log"));
        var whole = EmergeClassifier.Classify(System.Text.Encoding.UTF8.GetString(bytes));
        var random = new Random(7);
        var classifier = new EmergeClassifier();
        for (var at = 0; at < bytes.Length;)
        {
            var size = Math.Min(random.Next(1, 17), bytes.Length - at);
            classifier.Lines.Feed(bytes.AsSpan(at, size));
            at += size;
        }

        var chunked = classifier.Complete();

        chunked.Class.ShouldBe(whole.Class);
        chunked.Atoms.ShouldBe(whole.Atoms);
        chunked.PackagesMerged.ShouldBe(4);
    }
}

/// <summary>Emerge output people posted publicly (tests/Fixtures/public, each with its source), across Portage versions.</summary>
public sealed class PublicEmergeSampleTests
{
    public static TheoryData<string> Samples() =>
        new(Directory.GetFiles(Fixtures.PathOf("public"), "*.log").Select(Path.GetFileNameWithoutExtension).Order()!);

    [Theory]
    [MemberData(nameof(Samples))]
    public async Task Classification_matches_what_the_poster_saw(string name)
    {
        File.Exists(Fixtures.PathOf("public", name + ".source.md")).ShouldBeTrue($"{name} needs its source recorded");
        var expected = JsonNode.Parse(await File.ReadAllTextAsync(Fixtures.PathOf("public", name + ".expected.json")))!;
        await using var log = File.OpenRead(Fixtures.PathOf("public", name + ".log"));

        var outcome = await EmergeClassifier.ClassifyAsync(log);

        OutcomeClasses.Name(outcome.Class).ShouldBe(expected["class"]!.GetValue<string>());
        outcome.Atoms.ShouldBe(expected["atoms"]!.AsArray().Select(a => a!.GetValue<string>()).ToList());
        outcome.Phase.ShouldBe(expected["phase"]?.GetValue<string>());
        outcome.PackagesMerged.ShouldBe(expected["packagesMerged"]!.GetValue<int>());
        outcome.Suggested.ShouldBe(expected["suggested"]!.AsArray().Select(a => a!.GetValue<string>()).ToList());
    }
}

public sealed class EmergeClassifierLimitsTests
{
    [Fact]
    public void A_line_without_end_and_a_flood_of_lines_keep_memory_bounded()
    {
        var classifier = new EmergeClassifier();
        var garbage = new byte[1 << 20];
        Array.Fill(garbage, (byte)'x');
        for (var i = 0; i < 20; i++)
        {
            classifier.Lines.Feed(garbage);
        }

        var noise = System.Text.Encoding.UTF8.GetBytes("make[2]: Entering directory '/var/tmp/portage/x/y/work'\n");
        for (var i = 0; i < 100_000; i++)
        {
            classifier.Lines.Feed(noise);
        }

        classifier.Lines.Feed(System.Text.Encoding.UTF8.GetBytes("\n>>> Emerging (1 of 1) dev-libs/nss-3.46::gentoo\n>>> Compiling source in /var/tmp/portage/dev-libs/nss-3.46/work ...\n * ERROR: dev-libs/nss-3.46::gentoo failed (compile phase):\n"));

        var outcome = classifier.Complete(exitCode: 1);

        outcome.Class.ShouldBe(OutcomeClass.BuildFailure);
        outcome.Atoms.ShouldBe(["dev-libs/nss-3.46"]);
        outcome.Excerpt.Count.ShouldBeLessThanOrEqualTo(60);
        outcome.Excerpt.ShouldAllBe(line => line.Length <= 500);
    }

    [Fact]
    public void Empty_output_is_unknown_and_a_clean_exit_without_output_is_success()
    {
        EmergeClassifier.Classify("").Class.ShouldBe(OutcomeClass.Unknown);
        EmergeClassifier.Classify("", exitCode: 0).Class.ShouldBe(OutcomeClass.Success);
        EmergeClassifier.Classify("something odd happened\n", exitCode: 1).Class.ShouldBe(OutcomeClass.Unknown);
    }
}

public sealed class EmergeProgressTests
{
    [Fact]
    public async Task Progress_follows_the_package_its_phase_and_the_count()
    {
        var seen = new List<EmergeProgress>();
        var classifier = new EmergeClassifier();
        classifier.ProgressChanged += seen.Add;

        classifier.Lines.Feed(await File.ReadAllBytesAsync(Fixtures.PathOf("portage", "logs", "01-success-build.log")));

        seen.ShouldContain(new EmergeProgress("dev-libs/libgreet-2.1", "compile", 0, 4));
        seen.ShouldContain(new EmergeProgress("app-misc/greeter-1.0", "install", 3, 4));
        classifier.Progress.ShouldBe(new EmergeProgress(null, null, 4, 4));
    }

    [Fact]
    public async Task Progress_of_binary_merges_and_parallel_jobs_counts_completions()
    {
        var classifier = new EmergeClassifier();
        classifier.Lines.Feed(await File.ReadAllBytesAsync(Fixtures.PathOf("portage", "logs", "24-jobs2-interleaved-colour.log")));

        classifier.Progress.Done.ShouldBe(4);
        classifier.Progress.Total.ShouldBe(4);
    }
}
