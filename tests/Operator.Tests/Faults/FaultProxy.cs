using System.Net;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Gentoo.Operator.Tests.Faults;

/// <summary>
/// Stands between the operator and an API server (the in-process one or a real one) and makes the network and the
/// server misbehave as they do in life: a share of requests answered 500 or 429, latency added, watches cut off
/// mid-stream or answered with a "410 Gone" event, so the operator must relist. Only the operator talks through it;
/// the suite watches the cluster directly.
/// </summary>
public sealed class FaultProxy : IAsyncDisposable
{
    private readonly WebApplication app;
    private readonly HttpClient upstream;
    private readonly Lock gate = new();
    private readonly Random random;
    private long injected;

    private FaultProxy(WebApplication app, HttpClient upstream, int seed)
    {
        this.app = app;
        this.upstream = upstream;
        random = new Random(seed);
    }

    /// <summary>Where the operator is pointed.</summary>
    public Uri Address { get; private set; } = null!;

    /// <summary>The share of requests answered with an error instead of being forwarded (0 turns every fault off).</summary>
    public double ErrorRate { get; set; }

    /// <summary>The most latency added to a request.</summary>
    public TimeSpan MaxLatency { get; set; }

    /// <summary>The longest a watch is forwarded before it is cut off.</summary>
    public TimeSpan MaxWatch { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Faults injected so far: errors, cut watches and 410s.</summary>
    public long Injected => Interlocked.Read(ref injected);

    /// <summary>A proxy in front of the API server <paramref name="upstream"/> describes, authenticating as it says (token or client certificate).</summary>
    public static async Task<FaultProxy> StartAsync(k8s.KubernetesClientConfiguration upstream, int seed)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseKestrelCore().ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0));
        builder.Logging.ClearProviders();
#pragma warning disable CA2000, CA5359 // the proxy disposes it; the upstream is a test server on loopback (or one the suite's own client trusts)
        var handler = new SocketsHttpHandler { SslOptions = { RemoteCertificateValidationCallback = (_, _, _, _) => true }, PooledConnectionLifetime = TimeSpan.FromMinutes(1) };
        if (ClientCertificate(upstream) is { } certificate)
        {
            handler.SslOptions.ClientCertificates = [certificate];
        }

        var client = new HttpClient(handler) { BaseAddress = new Uri(upstream.Host), Timeout = Timeout.InfiniteTimeSpan };
#pragma warning restore CA2000, CA5359
        if (upstream.AccessToken is { Length: > 0 } token)
        {
            client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
        }

        var app = builder.Build();
        var proxy = new FaultProxy(app, client, seed);
        app.Run(proxy.ForwardAsync);
        await app.StartAsync();
        proxy.Address = ListeningAddress.Of(app);
        return proxy;
    }

    /// <summary>The client certificate a kubeconfig or envtest names, inline or in files; null when it authenticates otherwise.</summary>
    private static System.Security.Cryptography.X509Certificates.X509Certificate2? ClientCertificate(k8s.KubernetesClientConfiguration upstream)
    {
        if (upstream.ClientCertificateData is { Length: > 0 } data && upstream.ClientCertificateKeyData is { Length: > 0 } key)
        {
            return System.Security.Cryptography.X509Certificates.X509Certificate2.CreateFromPem(
                Encoding.UTF8.GetString(Convert.FromBase64String(data)), Encoding.UTF8.GetString(Convert.FromBase64String(key)));
        }

        return upstream.ClientCertificateFilePath is { Length: > 0 } path && upstream.ClientKeyFilePath is { Length: > 0 } keyPath
            ? System.Security.Cryptography.X509Certificates.X509Certificate2.CreateFromPemFile(path, keyPath)
            : null;
    }

    private double Next()
    {
        lock (gate)
        {
            return random.NextDouble();
        }
    }

    private async Task ForwardAsync(HttpContext context)
    {
        var ct = context.RequestAborted;
        var watch = context.Request.Query["watch"] is { Count: > 0 } w && (w[0] == "true" || w[0] == "1");
        if (MaxLatency > TimeSpan.Zero)
        {
            await Task.Delay(MaxLatency * Next(), ct);
        }

        if (ErrorRate > 0 && Next() < ErrorRate)
        {
            Interlocked.Increment(ref injected);
            var tooMany = Next() < 0.5;
            context.Response.StatusCode = tooMany ? 429 : 500;
            if (tooMany)
            {
                context.Response.Headers.RetryAfter = "1";
            }

            await context.Response.WriteAsJsonAsync(new
            {
                kind = "Status", apiVersion = "v1", status = "Failure", code = context.Response.StatusCode,
                reason = tooMany ? "TooManyRequests" : "InternalError", message = "injected fault",
            }, ct);
            return;
        }

        if (watch && ErrorRate > 0 && Next() < ErrorRate / 3)
        {
            // The resourceVersion the watch starts from is too old: the client must list again.
            Interlocked.Increment(ref injected);
            context.Response.ContentType = "application/json";
            await context.Response.WriteAsync("""{"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","status":"Failure","message":"too old resource version","reason":"Expired","code":410}}""" + "\n", ct);
            return;
        }

        using var request = new HttpRequestMessage(new HttpMethod(context.Request.Method), context.Request.Path + context.Request.QueryString);
        if (context.Request.ContentLength > 0 || context.Request.Headers.TransferEncoding.Count > 0)
        {
            var body = new MemoryStream();
            await context.Request.Body.CopyToAsync(body, ct);
            request.Content = new ByteArrayContent(body.ToArray());
            if (context.Request.ContentType is { } type)
            {
                request.Content.Headers.TryAddWithoutValidation("Content-Type", type);
            }
        }

        foreach (var (name, values) in context.Request.Headers)
        {
            if (name is not ("Host" or "Content-Type" or "Content-Length" or "Transfer-Encoding" or "Connection") && !(upstream.DefaultRequestHeaders.Authorization is not null && name == "Authorization"))
            {
                request.Headers.TryAddWithoutValidation(name, values.ToArray());
            }
        }

        using var cut = CancellationTokenSource.CreateLinkedTokenSource(ct);
        if (watch && ErrorRate > 0)
        {
            cut.CancelAfter(MaxWatch * Next());
        }

        HttpResponseMessage response;
        try
        {
            response = await upstream.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cut.Token);
        }
        catch (Exception e) when (e is HttpRequestException or OperationCanceledException)
        {
            context.Abort();
            return;
        }

        using (response)
        {
            context.Response.StatusCode = (int)response.StatusCode;
            foreach (var (name, values) in response.Headers.Concat(response.Content.Headers))
            {
                if (name is not ("Transfer-Encoding" or "Connection"))
                {
                    context.Response.Headers[name] = values.ToArray();
                }
            }

            try
            {
                await using var stream = await response.Content.ReadAsStreamAsync(cut.Token);
                var buffer = new byte[16 * 1024];
                for (int read; (read = await stream.ReadAsync(buffer, cut.Token)) > 0;)
                {
                    await context.Response.Body.WriteAsync(buffer.AsMemory(0, read), cut.Token);
                    await context.Response.Body.FlushAsync(cut.Token);
                }
            }
            catch (Exception e) when (e is OperationCanceledException or IOException or HttpRequestException)
            {
                if (!ct.IsCancellationRequested)
                {
                    Interlocked.Increment(ref injected); // the watch cut off mid-stream
                }

                context.Abort();
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await app.DisposeAsync();
        upstream.Dispose();
    }
}
