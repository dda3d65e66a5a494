using Gentoo.ApiServer.Api;

namespace Gentoo.Kubernetes.TestServer;

/// <summary>Fault hooks: what goes wrong with real API servers, on demand.</summary>
public sealed class Faults(Action endWatches) : Gentoo.ApiServer.IRequestInterceptor
{
    private readonly Lock gate = new();
    private int failuresLeft;
    private int failureCode;
    private Func<string, string, bool> failureFilter = (_, _) => true;

    /// <summary>Added to every request before it is answered.</summary>
    public TimeSpan Latency { get; set; }

    /// <summary>Closes every open watch connection at once, mid-stream, as a restarting API server or proxy does.</summary>
    public void DropAllWatches() => endWatches();

    /// <summary>Answers the next <paramref name="count"/> matching requests (method, path) with <paramref name="statusCode"/> (500 or 429).</summary>
    public void FailNext(int count, int statusCode = 500, Func<string, string, bool>? filter = null)
    {
        lock (gate)
        {
            failuresLeft = count;
            failureCode = statusCode;
            failureFilter = filter ?? ((_, _) => true);
        }
    }

    public async Task<ApiException?> InterceptAsync(string method, string path, CancellationToken ct)
    {
        if (Latency > TimeSpan.Zero)
        {
            await Task.Delay(Latency, ct);
        }

        return TakeFailure(method, path) switch
        {
            null => null,
            429 => new ApiException(429, "TooManyRequests", "the server has received too many requests and has asked us to try again later"),
            var code => new ApiException(code.Value, "InternalError", "an error on the server (\"injected fault\") has prevented the request from succeeding"),
        };
    }

    private int? TakeFailure(string method, string path)
    {
        lock (gate)
        {
            if (failuresLeft <= 0 || !failureFilter(method, path))
            {
                return null;
            }

            failuresLeft--;
            return failureCode;
        }
    }
}
