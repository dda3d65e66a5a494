using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using Gentoo.Connection;
using Gentoo.Entities.V1Alpha1;
using Gentoo.Runtime;
using k8s;
using k8s.Autorest;
using k8s.Models;

namespace Gentoo.Operator.Tests.Runtime;

/// <summary>The status write the operator sends itself: the request a kube-apiserver takes, answered as the client's calls are.</summary>
public sealed class ApiRequestTests
{
    private static BuildRun Run() => new()
    {
        ApiVersion = "gentoobuilder.io/v1alpha1",
        Kind = "BuildRun",
        Metadata = new V1ObjectMeta { Name = "firefox", NamespaceProperty = "desktop", ResourceVersion = "41" },
        Spec = new BuildRunSpec { BuilderRef = new LocalReference { Name = "plasma" }, Packages = ["www-client/firefox"] },
        Status = new BuildRunStatus { Phase = BuildRunPhase.Queued, WaitingFor = "kde «the holder»" },
    };

    [Fact]
    public async Task A_status_write_is_a_PUT_of_the_objects_utf8_json_to_its_status_subresource_and_returns_what_the_server_stored()
    {
        using var server = new OneShotServer("200 OK", """{"apiVersion":"gentoobuilder.io/v1alpha1","kind":"BuildRun","metadata":{"name":"firefox","namespace":"desktop","resourceVersion":"42"},"status":{"phase":"Queued"}}""");
        using var kube = ApiClients.Create(new KubernetesClientConfiguration { Host = server.Address }, TimeProvider.System);

        var stored = await new ResourceApi<BuildRun>(kube).ReplaceStatusAsync(Run(), CancellationToken.None);

        var (head, body) = await server.RequestAsync();
        head[0].ShouldBe("PUT /apis/gentoobuilder.io/v1alpha1/namespaces/desktop/buildruns/firefox/status HTTP/1.1");
        head.ShouldContain("Content-Type: application/json; charset=utf-8");
        var sent = JsonNode.Parse(Encoding.UTF8.GetString(body))!;
        sent["metadata"]!["resourceVersion"]!.GetValue<string>().ShouldBe("41", "the write is conditional on the version read");
        sent["status"]!["waitingFor"]!.GetValue<string>().ShouldBe("kde «the holder»");
        stored.Metadata.ResourceVersion.ShouldBe("42");
        stored.Status.Phase.ShouldBe(BuildRunPhase.Queued);
    }

    [Fact]
    public async Task A_conflict_comes_back_as_the_clients_exception_carrying_the_servers_status()
    {
        using var server = new OneShotServer("409 Conflict", """{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"Conflict","code":409,"message":"the object has been modified"}""");
        using var kube = ApiClients.Create(new KubernetesClientConfiguration { Host = server.Address }, TimeProvider.System);

        var refused = await Should.ThrowAsync<HttpOperationException>(() => new ResourceApi<BuildRun>(kube).ReplaceStatusAsync(Run(), CancellationToken.None));

        refused.Response.StatusCode.ShouldBe(HttpStatusCode.Conflict);
        refused.Response.Content.ShouldContain("the object has been modified");
    }

    [Fact]
    public async Task A_status_write_the_server_never_answers_ends_at_the_clients_timeout()
    {
        using var server = new OneShotServer(status: null, body: "");
        using var kube = ApiClients.Create(new KubernetesClientConfiguration { Host = server.Address, HttpClientTimeout = TimeSpan.FromMilliseconds(300) }, TimeProvider.System);

        await Should.ThrowAsync<OperationCanceledException>(() => new ResourceApi<BuildRun>(kube).ReplaceStatusAsync(Run(), CancellationToken.None)
            .WaitAsync(TimeSpan.FromSeconds(30)));
    }

    /// <summary>Takes one HTTP/1.1 request on loopback and answers it (or, without a status, never does).</summary>
    private sealed class OneShotServer : IDisposable
    {
        private readonly TcpListener listener = new(IPAddress.Loopback, 0);
        private readonly Task<(string[] Head, byte[] Body)> request;

        public OneShotServer(string? status, string body)
        {
            listener.Start();
            request = Task.Run(() => ServeAsync(status, body));
        }

        public string Address => $"http://127.0.0.1:{((IPEndPoint)listener.LocalEndpoint).Port}";

        public Task<(string[] Head, byte[] Body)> RequestAsync() => request.WaitAsync(TimeSpan.FromSeconds(10));

        private async Task<(string[] Head, byte[] Body)> ServeAsync(string? status, string body)
        {
            using var connection = await listener.AcceptTcpClientAsync();
            var stream = connection.GetStream();
            var received = new List<byte>();
            var buffer = new byte[4096];
            int headEnd;
            while ((headEnd = Encoding.ASCII.GetString([.. received]).IndexOf("\r\n\r\n", StringComparison.Ordinal)) < 0)
            {
                received.AddRange(buffer.AsSpan(0, await stream.ReadAsync(buffer)).ToArray());
            }

            var head = Encoding.ASCII.GetString([.. received], 0, headEnd).Split("\r\n");
            var length = int.Parse(head.Single(h => h.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase))[15..].Trim(), System.Globalization.CultureInfo.InvariantCulture);
            while (received.Count < headEnd + 4 + length)
            {
                received.AddRange(buffer.AsSpan(0, await stream.ReadAsync(buffer)).ToArray());
            }

            if (status is null)
            {
                await Task.Delay(Timeout.Infinite, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(20)).ContinueWith(_ => { }, TaskScheduler.Default);
            }
            else
            {
                var answer = Encoding.UTF8.GetBytes(body);
                await stream.WriteAsync(Encoding.ASCII.GetBytes($"HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {answer.Length}\r\nConnection: close\r\n\r\n"));
                await stream.WriteAsync(answer);
            }

            return (head, received.Skip(headEnd + 4).Take(length).ToArray());
        }

        public void Dispose() => listener.Stop();
    }
}
