using System.Diagnostics;

namespace Gentoo.Operator.Tests.Hosting;

/// <summary>Runs the built operator executable as a separate process, with a clean environment of our choosing.</summary>
internal static class OperatorProcess
{
    public sealed record Outcome(int ExitCode, string StandardOutput, string StandardError)
    {
        public string[] ErrorLines => StandardError.Split('\n', StringSplitOptions.RemoveEmptyEntries);
    }

    public static async Task<Outcome> RunAsync(IEnumerable<string> args, IDictionary<string, string>? environment = null, TimeSpan? timeout = null)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "gentoo-operator.dll"));
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        // No ambient cluster: no KUBECONFIG, no in-cluster variables, a HOME without ~/.kube.
        foreach (var name in new[] { "KUBECONFIG", "KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT", "WATCH_NAMESPACE", "LOG_LEVEL", "HEALTH_PORT", "LEADER_ELECT", "INSTALL_CRDS", "JSON_LOGS" })
        {
            start.Environment.Remove(name);
        }

        var home = Directory.CreateTempSubdirectory("gentoo-operator-home-");
        start.Environment["HOME"] = home.FullName;
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[name] = value;
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var deadline = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(60));
        try
        {
            await process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"the operator did not exit; stderr so far: {await stderr}");
        }
        finally
        {
            home.Delete(recursive: true);
        }

        return new Outcome(process.ExitCode, await stdout, await stderr);
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
