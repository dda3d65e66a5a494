using Gentoo.Operator.Tests.Hosting;
using Gentoo.Operator.Tests.Integration;
using Gentoo.Plugin;

namespace Gentoo.Operator.Tests.Plugin;

/// <summary>kubectl gentoo as a person runs it: through a kubeconfig for the test cluster, in a namespace.</summary>
public static class PluginInvocation
{
    public static async Task<(int ExitCode, string Output, string Error)> RunAsync(TestCluster cluster, string ns, params string[] args)
    {
        var kubeconfig = OperatorProcess.WriteKubeconfig(cluster.Server!.BaseAddress.ToString().TrimEnd('/'));
        using var output = new StringWriter();
        using var error = new StringWriter();
        // Parse errors go where the verbs' errors go, as they do on a terminal.
        var exit = await PluginCommand.Create(output, error).Parse([.. args, "--kubeconfig", kubeconfig, "-n", ns])
            .InvokeAsync(new System.CommandLine.InvocationConfiguration { Output = output, Error = error });
        return (exit, output.ToString(), error.ToString());
    }
}
