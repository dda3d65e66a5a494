using System.CommandLine;
using System.Runtime.CompilerServices;
using Gentoo.Crds;

namespace Gentoo.Operator.Cli;

/// <summary>generate-crds: writes config/crd and the Helm chart's crds/ from the entity types.</summary>
public static class GenerateCrdsCommand
{
    public static Command Create()
    {
        var output = new Option<DirectoryInfo?>("--output", "-o")
        {
            Description = "Directory to write the CRD YAML files to (default: config/crd and charts/gentoo-builder/files/crds of the enclosing checkout)",
        };
        var command = new Command("generate-crds", "Generate the CustomResourceDefinition YAML from the API types") { output };
        command.SetAction(result =>
        {
            if (!RuntimeFeature.IsDynamicCodeSupported)
            {
                // The generator reads the API types' properties and their XML docs, which only the source tree's build has.
                Console.Error.WriteLine("gentoo-operator: generate-crds reads the API types and their documentation: run it from the source tree (dotnet run --project src/Operator -- generate-crds)");
                return 2;
            }

            var root = CheckoutRoot(Environment.CurrentDirectory);
            var directories = result.GetValue(output) is { } chosen
                ? [chosen]
                : new[] { new DirectoryInfo(Path.Combine(root, "config", "crd")), new DirectoryInfo(Path.Combine(root, "charts", "gentoo-builder", "files", "crds")) };
            var rendered = Render(CrdGenerator.FromAssemblies()).ToList();
            foreach (var directory in directories)
            {
                directory.Create();
                foreach (var (file, yaml) in rendered)
                {
                    File.WriteAllText(Path.Combine(directory.FullName, file), yaml);
                    Console.WriteLine(Path.Combine(directory.FullName, file));
                }
            }

            return 0;
        });
        return command;
    }

    /// <summary>The nearest directory holding GentooBuilder.sln (dotnet run starts in the project's directory).</summary>
    private static string CheckoutRoot(string start)
    {
        for (var directory = new DirectoryInfo(start); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "GentooBuilder.sln")))
            {
                return directory.FullName;
            }
        }

        return start;
    }

    /// <summary>The YAML of every CRD by file name, exactly as committed under config/crd.</summary>
    public static IEnumerable<(string File, string Yaml)> Render(CrdGenerator generator) =>
        CrdGenerator.EntityTypes.Select(type => (
            CrdGenerator.FileName(type),
            "# Generated from src/Entities by `dotnet run --project src/Operator -- generate-crds`. Do not edit.\n"
            + "---\n"
            + YamlWriter.Write(generator.Generate(type))));
}
