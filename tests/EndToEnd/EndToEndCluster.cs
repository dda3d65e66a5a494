using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using k8s;
using k8s.Models;
using Testcontainers.K3s;

namespace Gentoo.EndToEnd;

/// <summary>
/// The cluster the scenario runs on: the person's (GENTOO_E2E_KUBECONFIG) or a k3s in the local Docker with the two
/// images imported into its containerd; a namespace of the suite's own; and the operator, run as a real process with the
/// cluster's kubeconfig, so that it can be killed (SIGKILL) and started again mid-build.
/// </summary>
public sealed class EndToEndCluster : IAsyncLifetime
{
    private readonly EndToEndSettings settings = EndToEndSettings.FromEnvironment;
    private readonly DirectoryInfo work = Directory.CreateTempSubdirectory("gentoo-e2e-");
    private K3sContainer? k3s;
    private Process? operatorProcess;

    public EndToEndSettings Settings => settings;

    public IKubernetes Kube { get; private set; } = null!;

    public string Namespace { get; private set; } = "";

    public string KubeconfigPath { get; private set; } = "";

    /// <summary>The operator's output so far, for a failing step's message.</summary>
    public string OperatorLog => File.Exists(LogPath) ? string.Join('\n', File.ReadLines(LogPath).TakeLast(40)) : "(no operator log)";

    private string LogPath => Path.Combine(work.FullName, "operator.log");

    public async Task InitializeAsync()
    {
        if (settings.Missing is not null)
        {
            return; // every step is skipped, saying why
        }

        KubeconfigPath = settings.Kubeconfig ?? await StartK3sAsync();
        Kube = new Kubernetes(KubernetesClientConfiguration.BuildConfigFromConfigFile(KubeconfigPath));
        Namespace = "gentoo-e2e-" + Guid.NewGuid().ToString("N")[..6];
        await Kube.CoreV1.CreateNamespaceAsync(new V1Namespace { Metadata = new V1ObjectMeta { Name = Namespace } });
        StartOperator();
    }

    public async Task DisposeAsync()
    {
        KillOperator();
        if (Kube is not null && Namespace.Length > 0 && Environment.GetEnvironmentVariable("GENTOO_E2E_KEEP") is null)
        {
            await Kube.CoreV1.DeleteNamespaceAsync(Namespace);
        }

        Kube?.Dispose();
        if (k3s is not null)
        {
            await k3s.DisposeAsync();
        }

        work.Delete(recursive: true);
    }

    /// <summary>Starts the operator process, as a Deployment would, watching only the suite's namespace.</summary>
    public void StartOperator()
    {
        var start = new ProcessStartInfo("dotnet") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in (string[])[Path.Combine(AppContext.BaseDirectory, "gentoo-operator.dll"), "--kubeconfig", KubeconfigPath, "--install-crds",
                     "--leader-elect=false", "--namespace", Namespace, "--operator-image", settings.OperatorImage!, "--health-port", FreePort().ToString(System.Globalization.CultureInfo.InvariantCulture)])
        {
            start.ArgumentList.Add(arg);
        }

        operatorProcess = Process.Start(start)!;
        var log = new StreamWriter(LogPath, append: true, Encoding.UTF8) { AutoFlush = true };
        var gate = new Lock();
        void Write(string? line)
        {
            if (line is not null)
            {
                lock (gate)
                {
                    log.WriteLine(line);
                }
            }
        }

        operatorProcess.OutputDataReceived += (_, e) => Write(e.Data);
        operatorProcess.ErrorDataReceived += (_, e) => Write(e.Data);
        operatorProcess.BeginOutputReadLine();
        operatorProcess.BeginErrorReadLine();
    }

    /// <summary>SIGKILL, as a node losing power or the OOM killer would: no graceful shutdown of any kind.</summary>
    public void KillOperator()
    {
        if (operatorProcess is { HasExited: false })
        {
            operatorProcess.Kill(entireProcessTree: true);
            operatorProcess.WaitForExit();
        }

        operatorProcess?.Dispose();
        operatorProcess = null;
    }

    /// <summary>Polls until <paramref name="done"/> holds, or fails naming what it waited for, the last value and the operator's log.</summary>
    public async Task<T> WaitForAsync<T>(Func<Task<T?>> probe, Func<T, bool> done, string what, TimeSpan timeout)
        where T : class
    {
        var deadline = DateTime.UtcNow + timeout;
        T? last = null;
        while (DateTime.UtcNow < deadline)
        {
            last = await probe();
            if (last is not null && done(last))
            {
                return last;
            }

            await Task.Delay(TimeSpan.FromSeconds(2));
        }

        throw new TimeoutException($"timed out after {timeout} waiting for {what}; last seen: {(last is null ? "nothing" : KubernetesJson.Serialize(last))}\noperator log:\n{OperatorLog}");
    }

    private async Task<string> StartK3sAsync()
    {
        k3s = new K3sBuilder(settings.K3sImage!).Build();
        await k3s.StartAsync();
        var path = Path.Combine(work.FullName, "kubeconfig");
        await File.WriteAllTextAsync(path, await k3s.GetKubeconfigAsync());

        // The images come from the local Docker into k3s's containerd, as `k3s ctr images import` does on a node.
        foreach (var image in new[] { settings.Stage3Image!, settings.OperatorImage! })
        {
            var archive = Path.Combine(work.FullName, "image.tar");
            Run("docker", ["save", "-o", archive, image]);
            await k3s.CopyAsync(new FileInfo(archive), "/tmp/");
            var imported = await k3s.ExecAsync(["ctr", "-n", "k8s.io", "images", "import", "/tmp/image.tar"]);
            if (imported.ExitCode != 0)
            {
                throw new InvalidOperationException($"importing {image} into k3s failed: {imported.Stderr}");
            }

            File.Delete(archive);
        }

        return path;
    }

    private static void Run(string file, IReadOnlyList<string> args)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        var error = process.StandardError.ReadToEndAsync();
        process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{file} {string.Join(' ', args)} exited {process.ExitCode}: {error.Result}");
        }
    }

    private static int FreePort()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }
}

[CollectionDefinition(Name)]
public sealed class EndToEndCollection : ICollectionFixture<EndToEndCluster>
{
    public const string Name = "end to end";
}
