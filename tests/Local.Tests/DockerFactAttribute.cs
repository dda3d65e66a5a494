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

/// <summary>
/// A Docker fact whose pods run privileged, as the operator's agent pods do: skipped where the engine refuses privileged
/// containers (a sandboxed or rootless engine), with the engine's words.
/// </summary>
public sealed class PrivilegedDockerFactAttribute : SkippableFactAttribute
{
    public PrivilegedDockerFactAttribute([CallerMemberName] string test = "")
        : base(test)
    {
        if (DockerFactAttribute.Missing() is { } reason)
        {
            SkipBecause(reason);
        }
        else if (DockerFactAttribute.Docker("run", "--rm", "--privileged", DockerFactAttribute.Image, "true") is { ExitCode: not 0 } refused)
        {
            SkipBecause($"this Docker engine refuses privileged containers, which the agent pods are: {refused.Error.Split('\n')[0]}");
        }
    }
}
