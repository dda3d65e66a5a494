using Gentoo.Entities.V1Alpha1;
using Gentoo.Operator.Tests.Hosting;
using Gentoo.Operator.Tests.Integration;
using Gentoo.Plugin;
using Gentoo.Runtime;
using k8s.Models;

namespace Gentoo.Operator.Tests.Plugin;

/// <summary>Completion as kubectl asks for it through kubectl_complete-gentoo, and the scripts for the shells.</summary>
[Collection(ClusterCollection.Name)]
public sealed class PluginCompletionTests(TestCluster cluster)
{
    private static async Task<(int ExitCode, string Output)> RunAsync(params string[] args)
    {
        using var output = new StringWriter();
        var exit = await PluginCommand.Create(output, TextWriter.Null).Parse(args).InvokeAsync(new System.CommandLine.InvocationConfiguration { Output = output, Error = TextWriter.Null });
        return (exit, output.ToString());
    }

    private static Task<(int ExitCode, string Output)> CompleteAsync(params string[] words) => RunAsync([PluginCommand.CompleteVerb, "--", .. words]);

    [Fact]
    public async Task Verbs_flags_and_values_complete_by_prefix_in_the_format_kubectl_reads()
    {
        (await CompleteAsync("")).Output.ShouldStartWith("binhost\nbuild\ncheck\ncompletion\ndelete\n");
        (await CompleteAsync("")).Output.ShouldEndWith("\n:4\n", Case.Sensitive, "cobra's directive: no file names");
        (await CompleteAsync("re")).Output.ShouldBe("releases\nresume\nretry\n:4\n");
        (await CompleteAsync("status", "-o", "")).Output.ShouldBe("json\nname\nwide\nyaml\n:4\n");
        (await CompleteAsync("status", "--a")).Output.ShouldBe("--all-namespaces\n:4\n");
        (await CompleteAsync("completion", "")).Output.ShouldBe("bash\nfish\nkubectl\npowershell\nzsh\n:4\n");
    }

    [Fact]
    public async Task Builder_and_run_arguments_complete_with_the_names_in_the_namespace_the_words_give()
    {
        var ns = await cluster.CreateNamespaceAsync();
        await new ResourceApi<GentooBuilder>(cluster.Kube).CreateAsync(new GentooBuilder
        {
            Metadata = new V1ObjectMeta { Name = "desktop", NamespaceProperty = ns },
            Spec = new GentooBuilderSpec { BootstrapRef = new LocalReference { Name = "stage3" } },
        }, CancellationToken.None);
        await new ResourceApi<BuildRun>(cluster.Kube).CreateAsync(new BuildRun
        {
            Metadata = new V1ObjectMeta { Name = "vim", NamespaceProperty = ns },
            Spec = new BuildRunSpec { BuilderRef = new LocalReference { Name = "desktop" } },
        }, CancellationToken.None);
        var kubeconfig = cluster.Kubeconfig;

        (await CompleteAsync("--kubeconfig", kubeconfig, "-n", ns, "logs", "")).Output.ShouldBe("desktop@latest\nvim\n:4\n");
        (await CompleteAsync("--kubeconfig", kubeconfig, "-n", ns, "releases", "d")).Output.ShouldBe("desktop\n:4\n");
        (await CompleteAsync("--kubeconfig", "/no/such/kubeconfig", "logs", "")).Output.ShouldBe(":4\n", "no cluster: nothing to offer, and no error");
    }

    [Fact]
    public async Task Completion_prints_a_script_for_each_shell_and_the_kubectl_companion()
    {
        var (exit, companion) = await RunAsync("completion", "kubectl");
        exit.ShouldBe(0);
        companion.ShouldStartWith("#!/bin/sh\n");
        companion.ShouldContain("exec kubectl-gentoo __complete -- \"$@\"");
        foreach (var shell in new[] { "bash", "zsh", "fish", "powershell" })
        {
            (await RunAsync("completion", shell)).Output.ShouldContain("__complete --");
        }

        (await RunAsync("completion", "tcsh")).ExitCode.ShouldBe(1);
    }
}
