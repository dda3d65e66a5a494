using System.CommandLine;
using System.Text.Encodings.Web;
using System.Text.Json;
using Gentoo.Portage.Atoms;
using Gentoo.Portage.Elf;
using Gentoo.Portage.Emerge;
using Gentoo.Portage.Repositories;

namespace Gentoo.Operator.Cli;

/// <summary>The Gentoo knowledge of src/Portage on the command line: classify emerge output, find kernel requirements.</summary>
public static class PortageCommands
{
    private static readonly JsonWriterOptions Pretty = new() { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static Command Classify()
    {
        var file = new Argument<string>("file") { Description = "Console output of one emerge run, or - for standard input" };
        var exitCode = new Option<int?>("--exit-code") { Description = "emerge's exit status, when known (143 tells an interrupted run)" };
        var scope = new Option<AtomScope>("--keyword-scope")
        {
            Description = "How accepted keywords and licenses are written in the proposed fixes: Version, Slot or Package",
            DefaultValueFactory = _ => AtomScope.Slot,
        };
        var repos = new Option<string>("--repos")
        {
            Description = "Where the ebuild repositories are, for the slot of a Slot-scoped keyword change",
            DefaultValueFactory = _ => "/var/db/repos",
        };
        var command = new Command("classify", "Classify the console output of an emerge run and print one JSON object") { file, exitCode, scope, repos };
        command.SetAction(async (result, ct) =>
        {
            var path = result.GetValue(file)!;
            if (path != "-" && !File.Exists(path))
            {
                await Console.Error.WriteLineAsync($"gentoo-operator classify: {path}: no such file");
                return 2;
            }

            await using var input = path == "-" ? Console.OpenStandardInput() : File.OpenRead(path);
            var options = new ClassifierOptions { KeywordScope = result.GetValue(scope), SlotOf = EbuildRepositories.SlotLookup(result.GetValue(repos)!) };
            var outcome = await EmergeClassifier.ClassifyAsync(input, options, result.GetValue(exitCode), ct);
            await using var output = Console.OpenStandardOutput();
            WriteOutcome(output, outcome);
            return 0;
        });
        return command;
    }

    public static Command KernelRequirement()
    {
        var paths = new Argument<string[]>("path") { Description = "Files and directories to scan for ELF ABI tags", Arity = ArgumentArity.OneOrMore };
        var command = new Command("kernel-requirement", "Print the highest kernel the ELF files require (GNU ABI tag notes) as JSON") { paths };
        command.SetAction(async (result, ct) =>
        {
            // As classify does: a path that is not there is a mistake to say, not an empty report.
            if (result.GetValue(paths)!.FirstOrDefault(p => !File.Exists(p) && !Directory.Exists(p)) is { } missing)
            {
                await Console.Error.WriteLineAsync($"gentoo-operator kernel-requirement: {missing}: no such file or directory");
                return 2;
            }

            var report = KernelRequirementScanner.Scan(result.GetValue(paths)!);
            await using var output = Console.OpenStandardOutput();
            WriteReport(output, report);
            return 0;
        });
        return command;
    }

    public static void WriteOutcome(Stream output, EmergeOutcome outcome)
    {
        using var json = new Utf8JsonWriter(output, Pretty);
        json.WriteStartObject();
        json.WriteString("class", OutcomeClasses.Name(outcome.Class));
        WriteStrings(json, "atoms", outcome.Atoms);
        WriteNullable(json, "phase", outcome.Phase);
        json.WriteNumber("packagesMerged", outcome.PackagesMerged);
        json.WriteNumber("binariesReused", outcome.BinariesReused);
        WriteNullable(json, "buildLog", outcome.BuildLog);
        WriteStrings(json, "suggested", outcome.Suggested);
        WriteStrings(json, "excerpt", outcome.Excerpt);
        json.WriteStartArray("fixes");
        foreach (var fix in outcome.Fixes)
        {
            json.WriteStartObject();
            json.WriteString("file", fix.File);
            json.WriteString("line", fix.Line);
            json.WriteBoolean("temporary", fix.Temporary);
            json.WriteEndObject();
        }

        json.WriteEndArray();
        json.WriteEndObject();
        json.Flush();
        output.WriteByte((byte)'\n');
    }

    public static void WriteReport(Stream output, KernelRequirementReport report)
    {
        using var json = new Utf8JsonWriter(output, Pretty);
        json.WriteStartObject();
        WriteNullable(json, "required", report.Required?.ToString());
        json.WriteStartArray("files");
        foreach (var file in report.Files.Where(f => f.LinuxAbi is not null))
        {
            json.WriteStartObject();
            json.WriteString("path", file.Path);
            json.WriteString("abi", file.LinuxAbi!.Value.ToString());
            json.WriteEndObject();
        }

        json.WriteEndArray();
        WriteStrings(json, "requiredBy", report.RequiringFiles.Select(f => f.Path));
        WriteStrings(json, "errors", report.Errors);
        json.WriteEndObject();
        json.Flush();
        output.WriteByte((byte)'\n');
    }

    private static void WriteStrings(Utf8JsonWriter json, string name, IEnumerable<string> values)
    {
        json.WriteStartArray(name);
        foreach (var value in values)
        {
            json.WriteStringValue(value);
        }

        json.WriteEndArray();
    }

    private static void WriteNullable(Utf8JsonWriter json, string name, string? value)
    {
        if (value is null)
        {
            json.WriteNull(name);
        }
        else
        {
            json.WriteString(name, value);
        }
    }
}
