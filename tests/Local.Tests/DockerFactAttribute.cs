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
        if (Missing() is { } reason)
        {
            SkipBecause(reason);
        }
    }

    /// <summary>Why this machine cannot run the Docker tests, or null.</summary>
    internal static string? Missing()
    {
        if (!File.Exists("/var/run/docker.sock") && Environment.GetEnvironmentVariable("DOCKER_HOST") is null)
        {
            return "no Docker engine on this machine (bash hack/local-base-images.sh installs and starts one)";
        }

        return Docker("image", "inspect", Image).ExitCode == 0 ? null : $"the image {Image} is missing (bash hack/local-base-images.sh makes it)";
    }

    internal static (int ExitCode, string Error) Docker(params string[] args)
    {
        try
        {
            using var docker = Process.Start(new ProcessStartInfo("docker", args) { RedirectStandardOutput = true, RedirectStandardError = true })!;
            var error = docker.StandardError.ReadToEndAsync();
            _ = docker.StandardOutput.ReadToEndAsync();
            return docker.WaitForExit(60_000) ? (docker.ExitCode, error.Result.Trim()) : (-1, "docker did not answer within a minute");
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return (-1, e.Message);
        }
    }
}
