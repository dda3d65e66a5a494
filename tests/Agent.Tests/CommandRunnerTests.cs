using System.Text;
using Gentoo.Agent.Emerge;
using Gentoo.Protocol;

namespace Gentoo.Agent.Tests;

// Sets variables of this test process's environment: the agent's tests run one at a time (AssemblyInfo.cs).
public sealed class CommandRunnerTests
{
    [Fact]
    public async Task What_the_agent_runs_gets_dotnets_own_GC_settings_not_the_agents()
    {
        var directory = Directory.CreateTempSubdirectory("command-runner-");
        foreach (var (name, value) in AgentPod.RuntimeEnvironment)
        {
            Environment.SetEnvironmentVariable(name, value); // as the agent's container has them
        }

        try
        {
            using var console = new MemoryStream();
            var runner = new CommandRunner(console, Path.Combine(directory.FullName, "emerge.log"), TimeSpan.FromSeconds(5));
            var script = string.Join("; ", AgentPod.RuntimeEnvironment.Keys.Select(name => $"echo {name}=${{{name}:-unset}}"));

            var result = await runner.RunAsync("/bin/sh", ["-c", script + "; echo FEATURES=$FEATURES"], new Dictionary<string, string> { ["FEATURES"] = "buildpkg" }, null, CancellationToken.None);

            result.ExitCode.ShouldBe(0);
            Encoding.UTF8.GetString(console.ToArray()).Split('\n', StringSplitOptions.RemoveEmptyEntries)
                .ShouldBe([.. AgentPod.RuntimeEnvironment.Keys.Select(name => $"{name}=unset"), "FEATURES=buildpkg"]);
        }
        finally
        {
            foreach (var name in AgentPod.RuntimeEnvironment.Keys)
            {
                Environment.SetEnvironmentVariable(name, null);
            }

            directory.Delete(recursive: true);
        }
    }
}
