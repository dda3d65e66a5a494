namespace Gentoo.Binhost;

/// <summary>
/// Runs a refresh for callers that each need a result begun no earlier than their own call, sharing one run among
/// all who wait for it: under load a binhost looks at its PKGDIR once for many requests, and still never answers a
/// request with what it saw before that request arrived. One refresh runs at a time.
/// </summary>
public sealed class SharedRefresh<T>(Func<T> refresh)
{
    private readonly Lock gate = new();
    private long arrivals;
    private (long Covers, Task<T> Run)? latest;

    public async Task<T> GetAsync()
    {
        var arrival = Interlocked.Increment(ref arrivals);
        while (true)
        {
            Task<T> run;
            bool fresh;
            lock (gate)
            {
                if (latest is { } covering && covering.Covers >= arrival)
                {
                    (run, fresh) = (covering.Run, true);
                }
                else if (latest is { Run.IsCompleted: false } older)
                {
                    (run, fresh) = (older.Run, false); // begun before this call: wait it out, then start (or join) the next one
                }
                else
                {
                    // Every call counted so far arrived before this run begins, so its result is fresh enough for them.
                    var covers = Interlocked.Read(ref arrivals);
                    (run, fresh) = (Task.Run(refresh), true);
                    latest = (covers, run);
                }
            }

            if (fresh)
            {
                return await run;
            }

            await ((Task)run).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }
}
