using System.Diagnostics;

namespace Gentoo.Kubernetes.TestServer;

/// <summary>
/// Runs the built operator executable (gentoo-operator.dll beside the running program: a project referencing the
/// operator has it) as a separate process, with a clean environment of our choosing.
/// </summary>
public static class OperatorProcess
{
    public sealed record Outcome(int ExitCode, string StandardOutput, string StandardError)
    {
        public string[] ErrorLines => StandardError.Split('\n', StringSplitOptions.RemoveEmptyEntries);
    }

    /// <summary>A started operator that keeps running until <see cref="TerminateAsync"/> (SIGTERM, as the kubelet sends).</summary>
    public sealed class Running : IDisposable
    {
        private readonly DirectoryInfo home;
        private readonly System.Collections.Concurrent.ConcurrentQueue<string> recentErrors = new();

        internal Running(Process process, DirectoryInfo home)
        {
            Process = process;
            this.home = home;
            StandardOutput = process.StandardOutput.ReadToEndAsync();
            StandardError = CollectAsync(process.StandardError, recentErrors);
        }

        /// <summary>The last 200 lines written to stderr so far, while the process runs.</summary>
        public string[] ErrorLinesSoFar() => [.. recentErrors];

        private static async Task<string> CollectAsync(StreamReader reader, System.Collections.Concurrent.ConcurrentQueue<string> recent)
        {
            var all = new System.Text.StringBuilder();
            while (await reader.ReadLineAsync() is { } line)
            {
                all.Append(line).Append('\n');
                recent.Enqueue(line);
                while (recent.Count > 200)
                {
                    recent.TryDequeue(out _);
                }
            }

            return all.ToString();
        }

        public Process Process { get; }

        public Task<string> StandardOutput { get; }

        public Task<string> StandardError { get; }

        public bool HasExited => Process.HasExited;

        /// <summary>For assertion messages: why it is not ready.</summary>
        public async Task<string> DescribeAsync() => Process.HasExited ? $"exited {Process.ExitCode}: {await StandardError}" : "still starting";

        public async Task TerminateAsync(TimeSpan? timeout = null)
        {
            if (!Process.HasExited)
            {
                using var term = Process.Start("kill", ["-TERM", Process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
                await term!.WaitForExitAsync();
            }

            await Process.WaitForExitAsync().WaitAsync(timeout ?? TimeSpan.FromSeconds(30));
        }

        public void Dispose()
        {
            if (!Process.HasExited)
            {
                Process.Kill(entireProcessTree: true);
            }

            Process.Dispose();
            home.Delete(recursive: true);
        }
    }

    /// <param name="args">The operator's command line.</param>
    /// <param name="environment">Variables set for it.</param>
    /// <param name="executable">A published operator to run; none: the built gentoo-operator.dll beside this program, through dotnet.</param>
    public static Running Start(IEnumerable<string> args, IDictionary<string, string>? environment = null, string? executable = null)
    {
        var (start, home) = StartInfo(args, environment, executable);
        return new Running(Process.Start(start)!, home);
    }

    public static async Task<Outcome> RunAsync(IEnumerable<string> args, IDictionary<string, string>? environment = null, TimeSpan? timeout = null)
    {
        using var running = Start(args, environment, null);
        using var deadline = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(60));
        try
        {
            await running.Process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            running.Process.Kill(entireProcessTree: true);
            throw new TimeoutException($"the operator did not exit; stderr so far: {await running.StandardError}");
        }

        return new Outcome(running.Process.ExitCode, await running.StandardOutput, await running.StandardError);
    }

    private static (ProcessStartInfo Start, DirectoryInfo Home) StartInfo(IEnumerable<string> args, IDictionary<string, string>? environment, string? executable)
    {
        var start = new ProcessStartInfo(executable ?? "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (executable is null)
        {
            start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "gentoo-operator.dll"));
        }

        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        // No ambient cluster: no KUBECONFIG, no in-cluster variables, a HOME without ~/.kube.
        foreach (var name in new[] { "KUBECONFIG", "KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT", "WATCH_NAMESPACE", "LOG_LEVEL", "HEALTH_PORT", "LEADER_ELECT", "INSTALL_CRDS", "JSON_LOGS", "OPERATOR_IMAGE", "POD_NAMESPACE" })
        {
            start.Environment.Remove(name);
        }

        var home = Directory.CreateTempSubdirectory("gentoo-operator-home-");
        start.Environment["HOME"] = home.FullName;
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[name] = value;
        }

        return (start, home);
    }

    /// <summary>A loopback port nothing listens on now, for the operator's health server.</summary>
    public static int FreePort()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>A kubeconfig file naming one cluster at <paramref name="server"/>.</summary>
    public static string WriteKubeconfig(string server)
    {
        var path = Path.Combine(Directory.CreateTempSubdirectory("gentoo-kubeconfig-").FullName, "config");
        File.WriteAllText(path, $"""
            apiVersion: v1
            kind: Config
            clusters:
            - name: test
              cluster:
                server: {server}
                insecure-skip-tls-verify: true
            contexts:
            - name: test
              context: {"{"}cluster: test, user: test{"}"}
            current-context: test
            users:
            - name: test
              user: {"{"}token: not-a-real-token{"}"}
            """);
        return path;
    }
}
