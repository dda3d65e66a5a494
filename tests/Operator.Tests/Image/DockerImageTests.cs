using System.Runtime.CompilerServices;
using System.Diagnostics;
using Gentoo.Entities.V1Alpha1;
using Gentoo.Operator.Desired;
using Gentoo.Tests;

namespace Gentoo.Operator.Tests.Image;

/// <summary>Runs when a Docker engine and the local base images (hack/local-base-images.sh) are there; says why it skipped otherwise.</summary>
public sealed class DockerImageFactAttribute : SkippableFactAttribute
{
    public const string SdkImage = "gentoo-builder/sdk:local";
    public const string RuntimeImage = "gentoo-builder/runtime-deps:local";

    private static readonly Lazy<string?> Missing = new(() =>
    {
        if (DockerImageTests.Docker(["info"]).ExitCode != 0)
        {
            return "needs a running Docker engine (.ci/run starts one as root)";
        }

        foreach (var image in new[] { SdkImage, RuntimeImage })
        {
            if (DockerImageTests.Docker(["image", "inspect", image]).ExitCode != 0)
            {
                return $"needs the local base image {image}: run hack/local-base-images.sh (no registry is reachable here)";
            }
        }

        return null;
    });

    public DockerImageFactAttribute([CallerMemberName] string test = "") : base(test)
    {
        if (Missing.Value is { } reason)
        {
            SkipBecause(reason);
        }
    }
}

public sealed class DockerImageTests
{
    private const string Tag = "gentoo-builder:test";

    [DockerImageFact]
    public void Dockerfile_builds_one_image_with_the_operator_as_a_non_root_user_and_the_agent()
    {
        var build = Docker(["build", "-q", "--build-arg", $"SDK_IMAGE={DockerImageFactAttribute.SdkImage}",
            "--build-arg", $"RUNTIME_IMAGE={DockerImageFactAttribute.RuntimeImage}", "-t", Tag, Checkout.Root], TimeSpan.FromMinutes(15));
        build.ExitCode.ShouldBe(0, build.Error);

        var user = Docker(["run", "--rm", "--entrypoint", "id", Tag, "-u"]);
        user.Output.Trim().ShouldBe("65532", "the operator runs as a non-root user");

        var operatorRun = Docker(["run", "--rm", Tag, "--kubeconfig", "/nonexistent"]);
        operatorRun.ExitCode.ShouldBe(1);
        operatorRun.Error.Trim().ShouldStartWith("gentoo-operator: no cluster configuration");

        var agent = Docker(["run", "--rm", "--entrypoint", "/opt/gentoo-builder/gentoo-agent", Tag, "frobnicate"]);
        agent.ExitCode.ShouldBe(30);
        agent.Error.Trim().ShouldStartWith("gentoo-agent: unknown step 'frobnicate'");

        // spec.autoBuild.timeZone is looked up in the system's time zone database (.NET has none of its own).
        Docker(["run", "--rm", "--entrypoint", "test", Tag, "-e", "/usr/share/zoneinfo/Europe/Berlin"]).ExitCode.ShouldBe(0, "the time zone database is in the image");
        // configFrom git sources are checked out by an init container of this image.
        Docker(["run", "--rm", "--entrypoint", "git", Tag, "--version"]).ExitCode.ShouldBe(0, "git is in the image");
        // Private ones: as the checkout container runs, it reads a Secret's root-only files and ssh knows its user.
        var auth = Directory.CreateTempSubdirectory("git-auth-");
        try
        {
            File.WriteAllText(Path.Combine(auth.FullName, "ssh-privatekey"), "key");
            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(Path.Combine(auth.FullName, "ssh-privatekey"), UnixFileMode.UserRead); // as a Secret volume's defaultMode 0400
            }

            var checkoutUser = DesiredGitConfig.CheckoutContainer([new GitConfigSource { Url = "git@example.org:portage.git" }], Tag).SecurityContext.RunAsUser!.Value;
            var checkout = Docker(["run", "--rm", "--user", $"{checkoutUser}:{checkoutUser}", "-v", $"{auth.FullName}:{DesiredGitConfig.AuthPath(0)}:ro", "--entrypoint", "sh", Tag,
                "-c", $"cat {DesiredGitConfig.AuthPath(0)}/ssh-privatekey >/dev/null && ssh -V"]);
            checkout.ExitCode.ShouldBe(0, "the checkout container reads its credentials and runs ssh: " + checkout.Error);
        }
        finally
        {
            auth.Delete(recursive: true);
        }

        // Build pods copy the agent into a Gentoo image that has no .NET: it must be one self-contained file.
        var files = Docker(["run", "--rm", "--entrypoint", "ls", Tag, "/opt/gentoo-builder"]);
        files.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries).ShouldBe(["gentoo-agent"]);
    }

    internal static (int ExitCode, string Output, string Error) Docker(string[] args, TimeSpan? timeout = null)
    {
        try
        {
            var start = new ProcessStartInfo("docker") { RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var arg in args)
            {
                start.ArgumentList.Add(arg);
            }

            using var process = Process.Start(start)!;
            var output = process.StandardOutput.ReadToEndAsync();
            var error = process.StandardError.ReadToEndAsync();
            if (!process.WaitForExit(timeout ?? TimeSpan.FromMinutes(2)))
            {
                process.Kill(entireProcessTree: true);
                return (-1, output.Result, "docker timed out");
            }

            return (process.ExitCode, output.Result, error.Result);
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return (-1, "", e.Message);
        }
    }
}
