using System.Net;
using System.Text;
using Gentoo.Connection;
using Gentoo.Kubernetes.TestServer;
using k8s;
using k8s.Models;

namespace Gentoo.Operator.Tests.Hosting;

public sealed class RetryAfterHandlerTests
{
    /// <summary>Answers from a list, in turn, and keeps what each request carried.</summary>
    private sealed class ScriptedServer(params Func<HttpResponseMessage>[] answers) : HttpMessageHandler
    {
        private int next;

        public List<(HttpMethod Method, Uri? Uri, string? Body, string? ContentType, string? Accept)> Seen { get; } = [];

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Seen.Add((request.Method, request.RequestUri, request.Content is null ? null : await request.Content.ReadAsStringAsync(cancellationToken),
                request.Content?.Headers.ContentType?.ToString(), request.Headers.Accept.ToString()));
            return answers[Math.Min(next++, answers.Length - 1)]();
        }
    }

    /// <summary>Time that passes at once, keeping how long each wait asked for.</summary>
    private sealed class InstantTime : TimeProvider
    {
        public List<TimeSpan> Waits { get; } = [];

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
        {
            Waits.Add(dueTime);
            return new Timer(callback, state, TimeSpan.Zero, Timeout.InfiniteTimeSpan);
        }
    }

    private static Func<HttpResponseMessage> Answer(HttpStatusCode code, string? retryAfter = null) => () =>
    {
        var response = new HttpResponseMessage(code) { Content = new StringContent("""{"kind":"Status"}""") };
        if (retryAfter is not null)
        {
            response.Headers.TryAddWithoutValidation("Retry-After", retryAfter);
        }

        return response;
    };

    private static (HttpMessageInvoker Client, InstantTime Time) Through(ScriptedServer server)
    {
        var time = new InstantTime();
        return (new HttpMessageInvoker(new RetryAfterHandler(time) { InnerHandler = server }), time);
    }

    private static HttpRequestMessage Post() => new(HttpMethod.Post, "http://127.0.0.1:1/api/v1/namespaces/gentoo/configmaps")
    {
        Content = new StringContent("""{"metadata":{"name":"portage"}}""", Encoding.UTF8, "application/json"),
        Headers = { { "Accept", "application/json" } },
    };

    [Fact]
    public async Task Throttled_requests_are_sent_again_with_the_same_body_after_the_wait_the_server_asked_for()
    {
        var server = new ScriptedServer(Answer(HttpStatusCode.TooManyRequests, "1"), Answer(HttpStatusCode.ServiceUnavailable, "2"), Answer(HttpStatusCode.Created));
        var (client, time) = Through(server);

        using var response = await client.SendAsync(Post(), CancellationToken.None);

        response.StatusCode.ShouldBe(HttpStatusCode.Created);
        time.Waits.ShouldBe([TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(2)]);
        server.Seen.Count.ShouldBe(3);
        server.Seen.ShouldAllBe(s => s.Method == HttpMethod.Post && s.Body == """{"metadata":{"name":"portage"}}""" && s.ContentType == "application/json; charset=utf-8"
            && s.Accept == "application/json" && s.Uri!.AbsolutePath == "/api/v1/namespaces/gentoo/configmaps");
    }

    [Theory]
    [InlineData(HttpStatusCode.InternalServerError, null)] // may have been half done: the caller judges
    [InlineData(HttpStatusCode.TooManyRequests, "Wed, 21 Oct 2026 07:28:00 GMT")] // client-go reads whole seconds only
    [InlineData(HttpStatusCode.ServiceUnavailable, "31")] // longer than LongestWait: the caller's own backoff
    [InlineData(HttpStatusCode.Conflict, "1")] // not the server's trouble
    public async Task Errors_without_a_usable_retry_after_reach_the_caller_at_once(HttpStatusCode code, string? retryAfter)
    {
        var server = new ScriptedServer(Answer(code, retryAfter), Answer(HttpStatusCode.OK));
        var (client, time) = Through(server);

        using var response = await client.SendAsync(Post(), CancellationToken.None);

        response.StatusCode.ShouldBe(code);
        server.Seen.Count.ShouldBe(1);
        time.Waits.ShouldBeEmpty();
    }

    [Fact]
    public async Task A_server_that_keeps_throttling_is_asked_ten_more_times_then_its_answer_reaches_the_caller()
    {
        var server = new ScriptedServer(Answer(HttpStatusCode.TooManyRequests, "1"));
        var (client, time) = Through(server);

        using var response = await client.SendAsync(new HttpRequestMessage(HttpMethod.Get, "http://127.0.0.1:1/api/v1/namespaces/gentoo/pods"), CancellationToken.None);

        response.StatusCode.ShouldBe(HttpStatusCode.TooManyRequests);
        server.Seen.Count.ShouldBe(1 + RetryAfterHandler.MaxRetries);
        server.Seen.ShouldAllBe(s => s.Body == null);
        time.Waits.Count.ShouldBe(RetryAfterHandler.MaxRetries);
    }

    [Fact]
    public async Task An_api_client_rides_out_throttling_by_the_in_process_api_server()
    {
        await using var server = await KubeApiServer.StartAsync();
        using var kube = ApiClients.Create(server.ClientConfiguration(), TimeProvider.System);
        server.Faults.FailNext(2, 429, (method, path) => method == "POST" && path.EndsWith("/configmaps", StringComparison.Ordinal));

        var made = await kube.CoreV1.CreateNamespacedConfigMapAsync(
            new V1ConfigMap { Metadata = new V1ObjectMeta { Name = "portage" }, Data = new Dictionary<string, string> { ["make.conf"] = "FEATURES=\"buildpkg\"\n" } }, "default");

        made.Data["make.conf"].ShouldBe("FEATURES=\"buildpkg\"\n");
        (await kube.CoreV1.ReadNamespacedConfigMapAsync("portage", "default")).Metadata.Uid.ShouldBe(made.Metadata.Uid);
    }
}
