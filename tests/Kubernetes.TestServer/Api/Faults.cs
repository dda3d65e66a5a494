namespace Gentoo.Kubernetes.TestServer.Api;

/// <summary>Fault hooks: what goes wrong with real API servers, on demand.</summary>
public sealed class Faults : IDisposable
{
    private readonly Lock gate = new();
    private CancellationTokenSource watches = new();
    private int failuresLeft;
    private int failureCode;
    private Func<string, string, bool> failureFilter = (_, _) => true;

    /// <summary>Added to every request before it is answered.</summary>
    public TimeSpan Latency { get; set; }

    /// <summary>Cancelled when watches are dropped; each watch stream links to the current one.</summary>
    public CancellationToken WatchLifetime
    {
        get
        {
            lock (gate)
            {
                return watches.Token;
            }
        }
    }

    /// <summary>Closes every open watch connection at once, mid-stream, as a restarting API server or proxy does.</summary>
    public void DropAllWatches()
    {
        CancellationTokenSource dropped;
        lock (gate)
        {
            dropped = watches;
            watches = new CancellationTokenSource();
        }

        dropped.Cancel();
        dropped.Dispose();
    }

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

    internal int? TakeFailure(string method, string path)
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

    public void Dispose()
    {
        lock (gate)
        {
            watches.Dispose();
        }
    }
}
