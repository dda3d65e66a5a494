using Gentoo.Entities.V1Alpha1;
using Gentoo.Kubernetes.TestServer;
using Gentoo.Operator.Tests.Hosting;
using Gentoo.Operator.Tests.Integration;
using Gentoo.Runtime;
using k8s;
using k8s.Models;

namespace Gentoo.Operator.Tests.Plugin;

/// <summary>The README's plugin install command, run as written (into a scratch directory instead of ~/.local/bin), once for the class.</summary>
public sealed class InstalledPlugin : IAsyncLifetime
{
    private readonly DirectoryInfo target = Directory.CreateTempSubdirectory("plugin-install-");

    public DirectoryInfo Target => target;

    public string Program => Path.Combine(target.FullName, "kubectl-gentoo");

    public (int ExitCode, string Output) Publish { get; private set; }

    public async Task InitializeAsync()
    {
        var command = File.ReadLines(Checkout.PathOf("README.md")).First(l => l.StartsWith("dotnet publish src/Plugin ", StringComparison.Ordinal)).Trim();
        command.ShouldEndWith(" -o ~/.local/bin");
        var args = command["dotnet ".Length..^"~/.local/bin".Length].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var (exitCode, output, error) = await Task.Run(() => Executable.Run("dotnet", Checkout.Root, [.. args, target.FullName]));
        Publish = (exitCode, output + error);
    }

    public Task DisposeAsync()
    {
        target.Delete(recursive: true);
        return Task.CompletedTask;
    }
}

/// <summary>
/// The plugin as the README installs it: one native executable (Native AOT), which has no reflection to fall back on.
/// Every verb it answers is compared with the plugin the other tests run in-process: same exit code, same output.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class PluginInstallTests(TestCluster cluster, InstalledPlugin plugin) : IClassFixture<InstalledPlugin>
{
    private readonly ResourceApi<BuildRun> runs = new(cluster.Kube);
    private readonly ResourceApi<GentooBuilder> builders = new(cluster.Kube);

    [Fact]
    public void The_readme_install_leaves_only_the_executable_that_kubectl_plugin_list_accepts()
    {
        plugin.Publish.ExitCode.ShouldBe(0, plugin.Publish.Output);
        plugin.Target.GetFiles().Select(f => f.Name).ShouldBe(["kubectl-gentoo"], "a .pdb, .dbg or .xml beside it makes kubectl plugin list warn");
    }

    [Fact]
    public async Task The_installed_executable_answers_every_verb_as_the_tested_plugin_does()
    {
        plugin.Publish.ExitCode.ShouldBe(0, plugin.Publish.Output);
        var ns = await NamespaceWithHistoryAsync();
        string[][] reads =
        [
            ["status"], ["status", "-o", "json"], ["status", "-o", "yaml"], ["status", "-o", "name"], ["status", "-o", "xml"],
            ["binhost", "desktop"], ["binhost", "desktop", "-o", "json"], ["binhost", "desktop", "-o", "yaml"],
            ["releases", "desktop"], ["releases", "desktop", "-o", "json"], ["releases", "desktop", "-o", "yaml"], ["releases", "desktop", "-o", "name"],
            ["explain", "vim"], ["explain", "vim", "-o", "json"], ["explain", "vim", "-o", "yaml"], ["explain", "desktop@latest"], ["explain", "nosuch"],
            ["version"], ["version", "-o", "json"], ["version", "-o", "yaml"],
            ["check"], ["completion", "bash"], ["completion", "kubectl"], ["--help"], ["build", "--help"],
        ];
        foreach (var args in reads)
        {
            var tested = await PluginInvocation.RunAsync(cluster, ns, args);
            var installed = Installed(ns, args);
            // Usage lines name the process: the test host here.
            installed.ShouldBe((tested.ExitCode, AsInstalled(tested.Output), AsInstalled(tested.Error)), $"kubectl gentoo {string.Join(' ', args)}");
        }

        // The verbs that write: an annotation set and one removed (merge patches), a run created and one deleted.
        Installed(ns, "stop", "nano").ExitCode.ShouldBe(0);
        (await runs.GetAsync(ns, "nano", CancellationToken.None))!.Metadata.Annotations.ShouldContainKey(RequestAnnotations.Stop);
        Installed(ns, "keep", "desktop", "1").ExitCode.ShouldBe(0);
        (await builders.GetAsync(ns, "desktop", CancellationToken.None))!.Metadata.Annotations[RequestAnnotations.KeepReleases].ShouldBe("1");
        var removed = Installed(ns, "keep", "desktop", "1", "--remove");
        removed.ExitCode.ShouldBe(0, removed.Error);
        ((await builders.GetAsync(ns, "desktop", CancellationToken.None))!.Metadata.Annotations ?? new Dictionary<string, string>()).ShouldNotContainKey(RequestAnnotations.KeepReleases);
        var built = Installed(ns, "build", "desktop", "app-misc/hello");
        built.ExitCode.ShouldBe(0, built.Error);
        (await runs.ListAsync(ns, CancellationToken.None)).Items.ShouldContain(r => r.Spec.Packages!.SequenceEqual(new[] { "app-misc/hello" }));
        Installed(ns, "delete", "emacs").ExitCode.ShouldBe(0);
        (await runs.GetAsync(ns, "emacs", CancellationToken.None)).ShouldBeNull();
    }

    [TestServerFact("a server that takes any bearer token, as the exec credential here gives one")]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")] // a shell-script credential command
    public async Task The_installed_executable_signs_in_through_a_kubeconfig_exec_plugin()
    {
        plugin.Publish.ExitCode.ShouldBe(0, plugin.Publish.Output);
        var ns = await NamespaceWithHistoryAsync();
        // What EKS, GKE and OIDC kubeconfigs do: a command prints an ExecCredential (the client hands it
        // KUBERNETES_EXEC_INFO, serialised by the client) and the token it holds goes with every request.
        var directory = Directory.CreateTempSubdirectory("plugin-exec-");
        try
        {
            var marker = Path.Combine(directory.FullName, "asked");
            var credential = Path.Combine(directory.FullName, "credential.sh");
            File.WriteAllText(credential, $$$"""
                #!/bin/sh
                printf '%s' "$KUBERNETES_EXEC_INFO" > {{{marker}}}
                echo '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"from-exec"}}'
                """);
            File.SetUnixFileMode(credential, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            var kubeconfig = Path.Combine(directory.FullName, "config");
            File.WriteAllText(kubeconfig, $$"""
                apiVersion: v1
                kind: Config
                clusters:
                - name: test
                  cluster: {server: "{{cluster.Server!.BaseAddress.ToString().TrimEnd('/')}}"}
                contexts:
                - name: test
                  context:
                    cluster: test
                    user: exec
                    namespace: {{ns}}
                current-context: test
                users:
                - name: exec
                  user:
                    exec:
                      apiVersion: client.authentication.k8s.io/v1
                      command: {{credential}}
                      interactiveMode: Never
                      provideClusterInfo: true
                """);

            var status = Executable.Run(plugin.Program, directory.FullName, ["status", "-o", "name", "--kubeconfig", kubeconfig]);
            status.ShouldBe((0, "gentoobuilder.gentoobuilder.io/desktop\nbuildrun.gentoobuilder.io/emacs\nbuildrun.gentoobuilder.io/nano\nbuildrun.gentoobuilder.io/vim\n", ""));
            File.ReadAllText(marker).ShouldContain("ExecCredential");
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    private static string AsInstalled(string text) => text.Replace("testhost ", "kubectl-gentoo ", StringComparison.Ordinal);

    private (int ExitCode, string Output, string Error) Installed(string ns, params string[] args)
    {
        return Executable.Run(plugin.Program, plugin.Target.FullName, [.. args, "--kubeconfig", cluster.Kubeconfig, "-n", ns]);
    }

    // A builder with a binhost, a signing key and two releases, and three runs: one that waits for a person after a failure, one that
    // succeeded, one running.
    private async Task<string> NamespaceWithHistoryAsync()
    {
        var ns = await PluginInvocation.BuilderWithReleasesAsync(cluster, "http://desktop-binhost.builds.svc:80/", status =>
        {
            status.SigningKeyFingerprint = "0123456789ABCDEF0123456789ABCDEF01234567";
            status.SigningKeyExpires = new DateTime(2028, 1, 2, 3, 4, 5, DateTimeKind.Utc);
        });
        foreach (var (name, phase) in new[] { ("emacs", BuildRunPhase.Succeeded), ("nano", BuildRunPhase.Running), ("vim", BuildRunPhase.AwaitingOperator) })
        {
            var run = await runs.CreateAsync(new BuildRun
            {
                Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = ns },
                Spec = new BuildRunSpec { BuilderRef = new LocalReference { Name = "desktop" }, Packages = ["app-editors/" + name] },
            }, CancellationToken.None);
            run.Status = new BuildRunStatus
            {
                Phase = phase,
                Progress = new BuildProgress { CurrentPackage = "dev-libs/nss-3.99", Phase = "compile", Done = 3, Total = 10 },
                Failure = phase == BuildRunPhase.AwaitingOperator
                    ? new FailureInfo { Class = FailureClass.KeywordChangeRequired, Atom = "app-editors/vim-9.1", Message = "keyword change required: \"~amd64\"", LogExcerpt = ["line one", "line: two", "  'three'", "multi\nline"] }
                    : null,
                ProposedFixes = phase == BuildRunPhase.AwaitingOperator
                    ? [new ProposedFix { Number = 1, Class = FailureClass.KeywordChangeRequired, File = "package.accept_keywords/vim", Lines = ["=app-editors/vim-9.1 ~amd64", "yes", "1.0", ""] }]
                    : null,
            };
            await runs.ReplaceStatusAsync(run, CancellationToken.None);
        }

        return ns;
    }
}
