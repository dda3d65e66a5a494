using System.Buffers;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Gentoo.Connection;
using Gentoo.Entities.V1Alpha1;
using Gentoo.Kubernetes.TestServer;
using Gentoo.Runtime;
using k8s;
using k8s.Models;

namespace Gentoo.Operator.Tests.Runtime;

/// <summary>The informers' watch stream: the events as the API server sends them, read once each, over the real client.</summary>
public sealed class WatchStreamTests
{
    private static readonly JsonSerializerOptions Options = ApiRequest.ClientOptions();

    [Fact]
    public void An_event_line_decodes_to_its_type_and_object_whether_type_or_object_comes_first()
    {
        var errors = new List<Exception>();
        var typeFirst = Decode("""{"type":"MODIFIED","object":{"apiVersion":"gentoobuilder.io/v1alpha1","kind":"BuildRun","metadata":{"name":"firefox","namespace":"desktop","resourceVersion":"7"},"spec":{"builderRef":{"name":"plasma"},"packages":["www-client/firefox"]},"status":{"phase":"Queued"}}}""", errors);
        var objectFirst = Decode("""{"object":{"kind":"BuildRun","metadata":{"name":"kde","resourceVersion":"8"},"spec":{"builderRef":{"name":"plasma"}}},"type":"ADDED"}""", errors);

        errors.ShouldBeEmpty();
        typeFirst!.Type.ShouldBe(WatchEventType.Modified);
        typeFirst.Object.Metadata.Name.ShouldBe("firefox");
        typeFirst.Object.Status.Phase.ShouldBe(BuildRunPhase.Queued);
        typeFirst.Object.Spec.Packages.ShouldBe(["www-client/firefox"]);
        objectFirst!.Type.ShouldBe(WatchEventType.Added);
        objectFirst.Object.Metadata.ResourceVersion.ShouldBe("8");
    }

    [Fact]
    public void A_status_event_goes_to_the_error_callback_as_the_servers_status_and_yields_nothing()
    {
        var errors = new List<Exception>();

        var decoded = Decode("""{"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"too old resource version: 5 (9)","reason":"Expired","code":410}}""", errors);

        decoded.ShouldBeNull();
        errors.ShouldHaveSingleItem().ShouldBeOfType<KubernetesException>().Status.Code.ShouldBe(410);
    }

    [Fact]
    public void An_unreadable_event_is_reported_and_skipped_and_a_blank_line_is_nothing()
    {
        var errors = new List<Exception>();

        Decode("""{"type":"ADDED","object":{"metadata":{"name":7}}}""", errors).ShouldBeNull();
        Decode("""not json""", errors).ShouldBeNull();
        Decode("\r", errors).ShouldBeNull();

        errors.Count.ShouldBe(2);
        errors.ShouldAllBe(e => e is JsonException);
    }

    [Fact]
    public void An_event_split_across_buffer_segments_decodes_as_one()
    {
        var line = Encoding.UTF8.GetBytes("""{"type":"DELETED","object":{"kind":"BuildRun","metadata":{"name":"split","resourceVersion":"12"}}}""");
        var first = new Segment(line.AsMemory(0, 20));
        var last = first.Append(line.AsMemory(20));
        var errors = new List<Exception>();

        var decoded = WatchStream.Decode(new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length), Events, Options, errors.Add);

        errors.ShouldBeEmpty();
        decoded!.Type.ShouldBe(WatchEventType.Deleted);
        decoded.Object.Metadata.Name.ShouldBe("split");
    }

    [Fact]
    public void The_request_names_the_kind_namespace_version_and_selector_as_the_client_would()
    {
        WatchStream.RelativeUri(KindInfo.Of<BuildRun>(), "desktop", "41", TimeSpan.FromMinutes(5), null)
            .ShouldBe("apis/gentoobuilder.io/v1alpha1/namespaces/desktop/buildruns?watch=true&allowWatchBookmarks=true&resourceVersion=41&timeoutSeconds=300");
        WatchStream.RelativeUri(KindInfo.Of<V1Pod>(), null, "7", TimeSpan.FromSeconds(30), "gentoobuilder.io/buildrun")
            .ShouldBe("api/v1/pods?watch=true&allowWatchBookmarks=true&resourceVersion=7&timeoutSeconds=30&labelSelector=gentoobuilder.io%2Fbuildrun");
    }

    [Fact]
    public async Task A_watch_names_the_kubeconfigs_tls_server_name_as_host_as_every_other_request_does()
    {
        // KubernetesClient sends tls-server-name as each request's Host (the name .NET checks the certificate against);
        // the watches, sent without the client's own request code, carry it through the client's HTTP handlers.
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var hosts = new List<string>();
        var serving = Task.Run(async () =>
        {
            for (var i = 0; i < 2; i++)
            {
                using var connection = await listener.AcceptTcpClientAsync();
                var stream = connection.GetStream();
                var request = new StringBuilder();
                var buffer = new byte[4096];
                while (!request.ToString().Contains("\r\n\r\n", StringComparison.Ordinal))
                {
                    request.Append(Encoding.ASCII.GetString(buffer, 0, await stream.ReadAsync(buffer)));
                }

                hosts.Add(request.ToString().Split("\r\n").Single(h => h.StartsWith("Host:", StringComparison.OrdinalIgnoreCase))[5..].Trim());
                await stream.WriteAsync(Encoding.ASCII.GetBytes("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}"));
            }
        });
        var configuration = new KubernetesClientConfiguration { Host = $"http://127.0.0.1:{((IPEndPoint)listener.LocalEndpoint).Port}", TlsServerName = "api.cluster.example" };
        using var kube = ApiClients.Create(configuration, TimeProvider.System);

        await kube.CoreV1.ListNamespacedPodWithHttpMessagesAsync("default");
        await foreach (var _ in CoreKinds.Pods(kube).WatchAsync("default", "0", TimeSpan.FromSeconds(1), _ => { }, CancellationToken.None))
        {
        }

        await serving.WaitAsync(TimeSpan.FromSeconds(10));
        hosts.ShouldBe(["api.cluster.example", "api.cluster.example"]);
    }

    private static JsonTypeInfo<Watcher<BuildRun>.WatchEvent> Events => (JsonTypeInfo<Watcher<BuildRun>.WatchEvent>)Options.GetTypeInfo(typeof(Watcher<BuildRun>.WatchEvent));

    private static Watcher<BuildRun>.WatchEvent? Decode(string line, List<Exception> errors) =>
        WatchStream.Decode(new ReadOnlySequence<byte>(Encoding.UTF8.GetBytes(line)), Events, Options, errors.Add);

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory) => Memory = memory;

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory) { RunningIndex = RunningIndex + Memory.Length };
            Next = next;
            return next;
        }
    }
}
