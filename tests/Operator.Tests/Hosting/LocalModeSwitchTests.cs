using System.Text.Json.Nodes;
using System.Xml.Linq;
using Gentoo.Operator.Cli;

namespace Gentoo.Operator.Tests.Hosting;

/// <summary>The cluster image's operator is published without local mode (-p:LocalMode=false): it says so and where to get it.</summary>
public sealed class LocalModeSwitchTests
{
    [Fact]
    public void Publishing_with_LocalMode_false_turns_the_switch_the_command_reads_off_and_lets_the_trimmer_drop_it()
    {
        var project = XDocument.Load(Checkout.PathOf("src", "Operator", "Operator.csproj"));

        var option = project.Descendants("RuntimeHostConfigurationOption").Single(o => (string?)o.Attribute("Include") == LocalCommand.Feature);

        ((string?)option.Attribute("Value")).ShouldBe("false");
        ((string?)option.Attribute("Trim")).ShouldBe("true"); // ILLink's and ILCompiler's name for a feature switch they may fold
        ((string?)option.Parent!.Attribute("Condition")).ShouldBe("'$(LocalMode)' == 'false'");
    }

    [Theory]
    [InlineData("up", "--service-address", "nowhere")] // with local mode: refused at once, with another message
    [InlineData("down")]
    public void Local_in_an_executable_without_local_mode_fails_saying_where_local_mode_is(string verb, params string[] more)
    {
        // What the publish property writes into the executable's runtime settings, on the built operator.
        var settings = JsonNode.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "gentoo-operator.runtimeconfig.json")))!;
        var properties = settings["runtimeOptions"]!["configProperties"] ??= new JsonObject();
        properties[LocalCommand.Feature] = false;
        var directory = Directory.CreateTempSubdirectory("without-local-mode-");
        try
        {
            var runtimeConfig = Path.Combine(directory.FullName, "gentoo-operator.runtimeconfig.json");
            File.WriteAllText(runtimeConfig, settings.ToJsonString());

            string[] args = ["exec", "--runtimeconfig", runtimeConfig, Path.Combine(AppContext.BaseDirectory, "gentoo-operator.dll"), "local", verb, "--state-dir", directory.FullName, .. more];
            var (exitCode, output, error) = Executable.Run("dotnet", directory.FullName, args);

            exitCode.ShouldBe(2, error);
            output.ShouldBeEmpty();
            error.Trim().ShouldBe("gentoo-operator local: this executable was published for a cluster, without local mode; run local mode from a checkout " +
                "(dotnet run --project src/Operator -- local up) or publish it without -p:LocalMode=false");
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    [Fact]
    public void Local_mode_is_in_an_executable_published_without_the_property()
    {
        LocalCommand.IsAvailable.ShouldBeTrue();
        LocalCommand.Create().Subcommands.Select(c => c.Name).ShouldBe(["up", "down"]);
    }
}
