using System.Diagnostics;
using Gentoo.Entities.V1Alpha1;
using Gentoo.Operator.Desired;
using k8s.Models;

namespace Gentoo.Operator.Tests.Desired;

public sealed class DesiredGitConfigTests : IDisposable
{
    private readonly DirectoryInfo work = Directory.CreateTempSubdirectory("git-config-");

    public void Dispose() => work.Delete(recursive: true);

    private static GentooBootstrap Bootstrap(string url, string? reference, string? path) => new()
    {
        Metadata = new V1ObjectMeta { Name = "plasma", NamespaceProperty = "gentoo", Uid = "u-plasma" },
        Spec = new GentooBootstrapSpec
        {
            Stage3 = new Stage3Source { Image = "docker.io/gentoo/stage3:amd64-openrc" },
            Profile = "default/linux/amd64/23.0",
            ConfigFrom =
            [
                new ConfigSource { ConfigMapRef = new LocalReference { Name = "plasma-portage" } },
                new ConfigSource { Git = new GitConfigSource { Url = url, Ref = reference, Path = path } },
            ],
        },
    };

    [Fact]
    public void A_git_source_becomes_an_init_container_checkout_that_the_agent_applies_as_a_tree()
    {
        var pod = DesiredBootstrap.Pod(Bootstrap("https://git.example.org/portage.git; rm -rf /", "stable", "hosts/desktop/"), 1, new PodSettings("gentoo-builder:1.0"));

        var checkout = pod.Spec.InitContainers.Single(c => c.Name == DesiredGitConfig.Volume);
        checkout.Image.ShouldBe("gentoo-builder:1.0");
        checkout.Env.Single(e => e.Name == "GIT_URL_0").Value.ShouldBe("https://git.example.org/portage.git; rm -rf /");
        checkout.Command.Last().ShouldNotContain("git.example.org", customMessage: "the URL reaches git through the environment, never the shell");
        var args = pod.Spec.Containers.Single().Args;
        args[args.IndexOf("--config-tree") + 1].ShouldBe("/etc/gentoo-builder/git/0/hosts/desktop");
        pod.Spec.Containers.Single().VolumeMounts.Single(m => m.Name == DesiredGitConfig.Volume).ReadOnlyProperty.ShouldBe(true);
    }

    [Fact]
    public void A_path_leaving_the_repository_is_refused_naming_the_field() =>
        DesiredGitConfig.Problem(Bootstrap("https://git.example.org/portage.git", null, "../../etc").Spec.ConfigFrom)
            .ShouldBe("spec.configFrom[1].git.path '../../etc' leaves the repository: use a directory inside it");

    [Fact]
    public void The_checkout_script_fetches_the_ref_of_a_real_repository()
    {
        var origin = Path.Combine(work.FullName, "origin");
        Git(work.FullName, "init", "-q", "-b", "stable", origin);
        Directory.CreateDirectory(Path.Combine(origin, "hosts", "desktop"));
        File.WriteAllText(Path.Combine(origin, "hosts", "desktop", "make.conf"), "USE=\"wayland\"\n");
        Git(origin, "add", ".");
        Git(origin, "-c", "user.name=t", "-c", "user.email=t@example.org", "commit", "-q", "-m", "desktop");

        var container = DesiredGitConfig.CheckoutContainer([new GitConfigSource { Url = origin, Ref = "stable", Path = "hosts/desktop" }], "unused");
        var checkouts = Path.Combine(work.FullName, "checkouts");
        Directory.CreateDirectory(checkouts);
        var run = new ProcessStartInfo(container.Command[0]) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in container.Command.Skip(1))
        {
            run.ArgumentList.Add(arg);
        }

        foreach (var env in container.Env)
        {
            run.Environment[env.Name] = env.Name is "HOME" or "GIT_CHECKOUTS" ? checkouts : env.Value;
        }

        using var process = Process.Start(run)!;
        process.WaitForExit();
        process.ExitCode.ShouldBe(0, process.StandardError.ReadToEnd());
        process.StandardOutput.ReadToEnd().ShouldContain($"configuration from {origin} at stable: ");
        File.ReadAllText(Path.Combine(checkouts, "0", "hosts", "desktop", "make.conf")).ShouldBe("USE=\"wayland\"\n");
    }

    private static void Git(string directory, params string[] args)
    {
        var start = new ProcessStartInfo("git") { WorkingDirectory = directory, RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        process.WaitForExit();
        process.ExitCode.ShouldBe(0, process.StandardError.ReadToEnd());
    }
}
