using System.Diagnostics;
using System.Runtime.CompilerServices;
using Gentoo.Tests;

namespace Gentoo.Local.Tests;

/// <summary>A fact that needs the local Docker engine and the Debian image .ci/run makes with hack/local-base-images.sh.</summary>
public sealed class DockerFactAttribute : SkippableFactAttribute
{
    public const string Image = "gentoo-builder/runtime-deps:local";

    public DockerFactAttribute([CallerMemberName] string test = "")
        : base(test)
    {
        if (!File.Exists("/var/run/docker.sock") && Environment.GetEnvironmentVariable("DOCKER_HOST") is null)
        {
            SkipBecause("no Docker engine on this machine (bash hack/local-base-images.sh installs and starts one)");
        }
        else if (!ImagePresent())
        {
            SkipBecause($"the image {Image} is missing (bash hack/local-base-images.sh makes it)");
        }
    }

    private static bool ImagePresent()
    {
        try
        {
            using var docker = Process.Start(new ProcessStartInfo("docker", ["image", "inspect", Image]) { RedirectStandardOutput = true, RedirectStandardError = true })!;
            docker.WaitForExit(30_000);
            return docker.HasExited && docker.ExitCode == 0;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return false;
        }
    }
}
