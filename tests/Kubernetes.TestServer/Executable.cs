using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Gentoo.Kubernetes.TestServer;

/// <summary>Other programs the tests and benchmarks run (helm, kubectl, a published plugin).</summary>
public static class Executable
{
    /// <summary>Runs an executable in a directory and waits for it: its exit code, standard output and standard error.</summary>
    public static (int ExitCode, string Output, string Error) Run(string file, string directory, params string[] args)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = directory };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        process.WaitForExit();
        return (process.ExitCode, output.Result, error.Result);
    }

    /// <summary>The property the Dockerfile publishes the cluster image's operator with: without local mode.</summary>
    public const string WithoutLocalMode = "-p:LocalMode=false";

    /// <summary>
    /// Publishes a project of this checkout as its releases are built (the Dockerfile, the plugin's install command): one
    /// self-contained file for this machine's platform, into <paramref name="output"/>; throws with dotnet's words when it fails.
    /// </summary>
    /// <param name="project">The project, relative to the checkout: src/Operator/Operator.csproj.</param>
    /// <param name="output">Where the file goes.</param>
    /// <param name="properties">More MSBuild properties, as -p:NAME=VALUE.</param>
    public static void PublishSingleFile(string project, string output, params string[] properties)
    {
        var (exitCode, said, error) = Run("dotnet", Checkout.Root, ["publish", Checkout.PathOf(project), "-c", "Release", "-r", RuntimeInformation.RuntimeIdentifier,
            "--self-contained", "-p:PublishSingleFile=true", .. properties, "-o", output, "-v", "quiet", "-nologo"]);
        if (exitCode != 0)
        {
            throw new InvalidOperationException($"dotnet publish {project} failed: {said}{error}");
        }
    }
}
