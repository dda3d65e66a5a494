using System.Diagnostics;

namespace Gentoo.Operator.Tests.Plugin;

/// <summary>The README's plugin install command, run as written (into a scratch directory instead of ~/.local/bin).</summary>
public sealed class PluginInstallTests : IDisposable
{
    private readonly DirectoryInfo target = Directory.CreateTempSubdirectory("plugin-install-");

    public void Dispose() => target.Delete(recursive: true);

    [Fact]
    public async Task The_readme_install_leaves_only_the_executable_that_kubectl_plugin_list_accepts()
    {
        var command = File.ReadLines(Checkout.PathOf("README.md")).First(l => l.StartsWith("dotnet publish src/Plugin ", StringComparison.Ordinal)).Trim();
        command.ShouldEndWith(" -o ~/.local/bin");
        var args = command["dotnet ".Length..^"~/.local/bin".Length].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var start = new ProcessStartInfo("dotnet") { WorkingDirectory = Checkout.Root, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        start.ArgumentList.Add(target.FullName);
        using var publish = Process.Start(start)!;
        var output = await publish.StandardOutput.ReadToEndAsync();
        await publish.WaitForExitAsync();

        publish.ExitCode.ShouldBe(0, output);
        target.GetFiles().Select(f => f.Name).ShouldBe(["kubectl-gentoo"], "a .pdb or .xml beside it makes kubectl plugin list warn");
    }
}
