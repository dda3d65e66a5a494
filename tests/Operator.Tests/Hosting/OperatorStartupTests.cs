using System.Net;
using System.Net.Sockets;
using System.Text;
using Gentoo.Kubernetes.TestServer;
using k8s;

namespace Gentoo.Operator.Tests.Hosting;

public sealed class OperatorStartupTests
{
    [Fact]
    public async Task Unreachable_api_server_exits_non_zero_with_one_line_naming_the_server()
    {
        var port = UnusedPort();
        var kubeconfig = OperatorProcess.WriteKubeconfig($"https://127.0.0.1:{port}");

        var outcome = await OperatorProcess.RunAsync(["--kubeconfig", kubeconfig]);

        outcome.ExitCode.ShouldBe(1);
        outcome.ErrorLines.ShouldHaveSingleItem()
            .ShouldBe($"gentoo-operator: cannot reach the Kubernetes API server at https://127.0.0.1:{port}: Connection refused");
        outcome.StandardOutput.ShouldNotContain("   at ");
    }

    [Fact]
    public async Task Missing_kubeconfig_outside_a_cluster_exits_with_one_line_saying_what_to_set()
    {
        var outcome = await OperatorProcess.RunAsync([], new Dictionary<string, string> { ["KUBECONFIG"] = "/nonexistent/kubeconfig" });

        outcome.ExitCode.ShouldBe(1);
        outcome.ErrorLines.ShouldHaveSingleItem().ShouldBe(
            "gentoo-operator: no cluster configuration: not running inside a cluster and no kubeconfig at /nonexistent/kubeconfig (set KUBECONFIG or --kubeconfig)");
    }

    [Fact]
    public async Task Api_server_that_keeps_answering_with_an_error_is_tried_for_ten_seconds_then_reported_in_one_line()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var answering = AnswerAsync(listener, "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 19\r\nConnection: close\r\n\r\netcd is unavailable");
        var kubeconfig = OperatorProcess.WriteKubeconfig($"http://127.0.0.1:{port}");

        var outcome = await OperatorProcess.RunAsync(["--kubeconfig", kubeconfig]);

        outcome.ExitCode.ShouldBe(1);
        outcome.ErrorLines.Last().ShouldBe(
            $"gentoo-operator: the Kubernetes API server at http://127.0.0.1:{port} answered 503 ServiceUnavailable: etcd is unavailable");
        outcome.ErrorLines.SkipLast(1).ShouldAllBe(l => l.Contains("The API server answered 503 while the operator starts; trying again in"));
        outcome.ErrorLines.Length.ShouldBeGreaterThanOrEqualTo(6, "retries for ten seconds, then the one line");
        listener.Stop();
        await answering;
    }

    [Fact]
    public async Task Server_errors_that_outlast_the_patience_at_start_up_end_in_one_line_not_an_unhandled_exception()
    {
        await using var server = await KubeApiServer.StartAsync();
        server.Faults.FailNext(1000, 500, (_, path) => path.StartsWith("/apis/apiextensions.k8s.io", StringComparison.Ordinal));
        var kubeconfig = OperatorProcess.WriteKubeconfig(server.BaseAddress.ToString().TrimEnd('/'));

        var outcome = await OperatorProcess.RunAsync(["--kubeconfig", kubeconfig, "--install-crds", "--leader-elect", "false", "--health-port",
            OperatorProcess.FreePort().ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind-address", "127.0.0.1"]);

        outcome.ExitCode.ShouldBe(1);
        outcome.StandardError.ShouldNotContain("Unhandled exception");
        outcome.ErrorLines.Last().ShouldStartWith("gentoo-operator: the API server kept answering 500 (");
        outcome.ErrorLines.Last().ShouldEndWith(") for 10 s while the operator started; exiting, to be started again");
    }

    [Fact]
    public async Task A_moment_of_server_errors_at_start_up_is_waited_out()
    {
        await using var server = await KubeApiServer.StartAsync();
        server.Faults.FailNext(2, 500, (_, path) => path.StartsWith("/version", StringComparison.Ordinal));
        var kubeconfig = OperatorProcess.WriteKubeconfig(server.BaseAddress.ToString().TrimEnd('/'));

        using var process = OperatorProcess.Start(["--kubeconfig", kubeconfig, "--install-crds", "--leader-elect", "false", "--health-port", OperatorProcess.FreePort().ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind-address", "127.0.0.1"]);
        using var kube = new k8s.Kubernetes(server.ClientConfiguration());
        await Eventually.GetAsync(async () => (await kube.ApiextensionsV1.ListCustomResourceDefinitionAsync()).Items.Count, count => count == 3 || process.HasExited, "the operator to install its CRDs");

        process.HasExited.ShouldBeFalse(await process.DescribeAsync());
        await process.TerminateAsync();
        (await process.StandardError).ShouldContain("The API server answered 500 while the operator starts; trying again in");
    }

    [Fact]
    public async Task Invalid_environment_value_exits_with_one_line_naming_the_variable()
    {
        var outcome = await OperatorProcess.RunAsync([], new Dictionary<string, string> { ["LOG_LEVEL"] = "Loud" });

        outcome.ExitCode.ShouldBe(2);
        outcome.ErrorLines.ShouldHaveSingleItem().ShouldBe(
            "gentoo-operator: LOG_LEVEL=Loud is not a log level: use one of Verbose, Debug, Information, Warning, Error, Fatal");
    }

    [Fact]
    public async Task Generate_crds_writes_the_committed_files()
    {
        var output = Directory.CreateTempSubdirectory("gentoo-crds-");

        var outcome = await OperatorProcess.RunAsync(["generate-crds", "--output", output.FullName]);

        outcome.ExitCode.ShouldBe(0, outcome.StandardError);
        foreach (var file in Directory.GetFiles(Checkout.PathOf("config", "crd")))
        {
            File.ReadAllText(Path.Combine(output.FullName, Path.GetFileName(file))).ShouldBe(File.ReadAllText(file));
        }

        output.Delete(recursive: true);
    }

    private static int UnusedPort()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }

    private static async Task AnswerAsync(TcpListener listener, string response)
    {
        try
        {
            while (true)
            {
                using var client = await listener.AcceptTcpClientAsync();
                var stream = client.GetStream();
                var buffer = new byte[8192];
                _ = await stream.ReadAsync(buffer);
                await stream.WriteAsync(Encoding.ASCII.GetBytes(response));
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException or IOException)
        {
            // The listener was stopped: the test is over.
        }
    }
}
