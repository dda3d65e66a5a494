using Gentoo.Entities.V1Alpha1;
using Gentoo.Operator.Tests.Hosting;
using Gentoo.Operator.Tests.Integration;
using Gentoo.Plugin;
using Gentoo.Runtime;
using k8s.Models;

namespace Gentoo.Operator.Tests.Plugin;

/// <summary>kubectl gentoo as a person runs it: through a kubeconfig for the test cluster, in a namespace.</summary>
public static class PluginInvocation
{
    public static async Task<(int ExitCode, string Output, string Error)> RunAsync(TestCluster cluster, string ns, params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        // Parse errors go where the verbs' errors go, as they do on a terminal.
        var exit = await PluginCommand.Create(output, error).Parse([.. args, "--kubeconfig", cluster.Kubeconfig, "-n", ns])
            .InvokeAsync(new System.CommandLine.InvocationConfiguration { Output = output, Error = error });
        return (exit, output.ToString(), error.ToString());
    }

    /// <summary>A namespace with a ready builder "desktop" whose binhost is at <paramref name="binhostUrl"/>, with releases 1 and 2 kept and 2 published.</summary>
    public static async Task<string> BuilderWithReleasesAsync(TestCluster cluster, string binhostUrl, Action<GentooBuilderStatus>? more = null)
    {
        var ns = await cluster.CreateNamespaceAsync();
        var builder = await new ResourceApi<GentooBuilder>(cluster.Kube).CreateAsync(new GentooBuilder
        {
            Metadata = new V1ObjectMeta { Name = "desktop", NamespaceProperty = ns },
            Spec = new GentooBuilderSpec { BootstrapRef = new LocalReference { Name = "stage3" } },
        }, CancellationToken.None);
        builder.Status = new GentooBuilderStatus
        {
            Phase = BuilderPhase.Ready,
            BinhostUrl = binhostUrl,
            Releases = new BuilderReleases
            {
                Published = "2",
                Kept =
                [
                    new ReleaseSummary { Id = "1", Created = new DateTime(2026, 12, 1, 2, 0, 0, DateTimeKind.Utc), Run = $"{ns}/world-1", Packages = 4, Added = 4, Removed = 0, Changed = 0 },
                    new ReleaseSummary { Id = "2", Created = new DateTime(2026, 12, 2, 2, 0, 0, DateTimeKind.Utc), Run = $"{ns}/world-2", Packages = 3, Added = 0, Removed = 1, Changed = 0 },
                ],
            },
        };
        more?.Invoke(builder.Status);
        await new ResourceApi<GentooBuilder>(cluster.Kube).ReplaceStatusAsync(builder, CancellationToken.None);
        return ns;
    }
}
