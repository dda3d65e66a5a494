using System.Text.Json.Nodes;

namespace Gentoo.Operator.Tests.Hosting;

public sealed class PortageCommandTests
{
    [Fact]
    public async Task Classify_prints_the_json_object_reviewers_read()
    {
        var log = Checkout.PathOf("tests", "Fixtures", "portage", "logs", "17-build-failure-compile.log");

        var outcome = await OperatorProcess.RunAsync(["classify", log]);

        outcome.ExitCode.ShouldBe(0, outcome.StandardError);
        var json = JsonNode.Parse(outcome.StandardOutput)!.AsObject();
        json.Select(p => p.Key).Take(8).ShouldBe(["class", "atoms", "phase", "packagesMerged", "binariesReused", "buildLog", "suggested", "excerpt"]);
        json["class"]!.GetValue<string>().ShouldBe("build-failure");
        json["phase"]!.GetValue<string>().ShouldBe("compile");
        json["atoms"]!.AsArray().Single()!.GetValue<string>().ShouldBe("dev-libs/libparse-0.2");
        json["buildLog"]!.GetValue<string>().ShouldBe("/var/log/portage/dev-libs:libparse-0.2:20261125-014024.log");
    }

    [Fact]
    public async Task Classify_at_slot_scope_reads_the_slot_from_the_repositories()
    {
        var log = Checkout.PathOf("tests", "Fixtures", "portage", "logs", "08-keyword-masked-no-autounmask.log");
        var repos = Directory.CreateTempSubdirectory("repos-");
        try
        {
            Directory.CreateSymbolicLink(Path.Combine(repos.FullName, "demo"), Checkout.PathOf("tests", "Fixtures", "portage", "ebuild-repo"));

            var outcome = await OperatorProcess.RunAsync(["classify", log, "--keyword-scope", "Slot", "--repos", repos.FullName]);

            outcome.ExitCode.ShouldBe(0, outcome.StandardError);
            var fix = JsonNode.Parse(outcome.StandardOutput)!["fixes"]!.AsArray().Single()!;
            fix["line"]!.GetValue<string>().ShouldBe("app-misc/nightly:0 ~amd64");
        }
        finally
        {
            repos.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task Kernel_requirement_prints_the_highest_abi_and_its_files()
    {
        var elf = Checkout.PathOf("tests", "Fixtures", "portage", "elf");

        var outcome = await OperatorProcess.RunAsync(["kernel-requirement", elf]);

        outcome.ExitCode.ShouldBe(0, outcome.StandardError);
        var json = JsonNode.Parse(outcome.StandardOutput)!;
        json["required"]!.GetValue<string>().ShouldBe("3.17.0");
        json["files"]!.AsArray().Select(f => f!["abi"]!.GetValue<string>()).Order().ShouldBe(["3.17.0", "3.2.0"]);
    }

    [Fact]
    public async Task Kernel_requirement_of_a_missing_path_fails_with_one_line_as_classify_does()
    {
        var outcome = await OperatorProcess.RunAsync(["kernel-requirement", Checkout.PathOf("tests", "Fixtures", "portage", "elf"), "/does/not/exist"]);

        outcome.ExitCode.ShouldBe(2);
        outcome.ErrorLines.ShouldHaveSingleItem().ShouldBe("gentoo-operator kernel-requirement: /does/not/exist: no such file or directory");
    }

    [Fact]
    public async Task Classify_of_a_missing_file_fails_with_one_line()
    {
        var outcome = await OperatorProcess.RunAsync(["classify", "/no/such/emerge.log"]);

        outcome.ExitCode.ShouldBe(2);
        outcome.ErrorLines.ShouldHaveSingleItem().ShouldBe("gentoo-operator classify: /no/such/emerge.log: no such file");
    }
}
