using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Gentoo.Kubernetes.TestServer;
using Gentoo.Operator.Crds;
using Gentoo.Operator.Runtime;
using k8s;

namespace Gentoo.Operator.Tests.Hosting;

public sealed class OperatorProcessIntegrationTests
{
    [Fact]
    public async Task Operator_installs_crds_becomes_ready_serves_metrics_and_stops_cleanly_on_sigterm()
    {
        await using var server = await KubeApiServer.StartAsync();
        var kubeconfig = OperatorProcess.WriteKubeconfig(server.BaseAddress.ToString().TrimEnd('/'));
        var port = FreePort();
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[] { Path.Combine(AppContext.BaseDirectory, "gentoo-operator.dll"), "--kubeconfig", kubeconfig, "--install-crds",
                     "--leader-elect", "false", "--health-port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind-address", "127.0.0.1" })
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
        try
        {
            var ready = await Integration.Eventually.GetAsync(async () =>
            {
                try
                {
                    return (await http.GetAsync("/readyz")).StatusCode;
                }
                catch (HttpRequestException)
                {
                    return HttpStatusCode.ServiceUnavailable;
                }
            }, status => status == HttpStatusCode.OK || process.HasExited, "the operator to become ready", TimeSpan.FromSeconds(30));
            ready.ShouldBe(HttpStatusCode.OK, await DescribeAsync(process, stderr));

            using var kube = new k8s.Kubernetes(server.ClientConfiguration());
            foreach (var name in CrdInstaller.CrdNames())
            {
                (await kube.ApiextensionsV1.ReadCustomResourceDefinitionAsync(name)).Status.Conditions.ShouldContain(c => c.Type == "Established" && c.Status == "True");
            }

            (await http.GetAsync("/healthz")).StatusCode.ShouldBe(HttpStatusCode.OK);
            (await http.GetStringAsync("/metrics")).ShouldContain("gentoo_operator_leader 1");
        }
        finally
        {
            using var term = Process.Start("kill", ["-TERM", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
            await term!.WaitForExitAsync();
        }

        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
        process.ExitCode.ShouldBe(0, await stderr);
        (await stdout + await stderr).ShouldContain("Shutting down");
    }

    [Fact]
    public async Task Cluster_without_the_snapshot_api_is_detected()
    {
        await using var without = await KubeApiServer.StartAsync(new KubeApiServerOptions { VolumeSnapshots = false });
        await using var with = await KubeApiServer.StartAsync();
        using var kubeWithout = new k8s.Kubernetes(without.ClientConfiguration());
        using var kubeWith = new k8s.Kubernetes(with.ClientConfiguration());

        (await ApiDiscovery.ServesAsync(kubeWithout, ApiDiscovery.SnapshotGroup, "v1", CancellationToken.None)).ShouldBeFalse();
        (await ApiDiscovery.ServesAsync(kubeWith, ApiDiscovery.SnapshotGroup, "v1", CancellationToken.None)).ShouldBeTrue();
    }

    private static async Task<string> DescribeAsync(Process process, Task<string> stderr) =>
        process.HasExited ? $"exited {process.ExitCode}: {await stderr}" : "still starting";

    private static int FreePort()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }
}
