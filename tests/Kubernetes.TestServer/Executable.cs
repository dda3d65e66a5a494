using System.Diagnostics;

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
}
