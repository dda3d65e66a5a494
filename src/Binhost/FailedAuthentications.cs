namespace Gentoo.Binhost;

/// <summary>
/// Wrong build-request tokens, counted per client: a client that sent <see cref="MaxFailures"/> wrong ones within
/// <see cref="Window"/> is refused until the oldest of them is that old, without its token being looked at, so a
/// token cannot be guessed at network speed. Remembers at most <see cref="MaxClients"/> clients.
/// </summary>
public sealed class FailedAuthentications(TimeProvider clock)
{
    public const int MaxFailures = 10;
    public const int MaxClients = 4096;
    public static readonly TimeSpan Window = TimeSpan.FromMinutes(1);

    private readonly Dictionary<string, Queue<DateTimeOffset>> failures = new(StringComparer.Ordinal);

    /// <summary>How long <paramref name="client"/> is still refused; null when it may try.</summary>
    public TimeSpan? RefusedFor(string client)
    {
        var now = clock.GetUtcNow();
        lock (failures)
        {
            if (!failures.TryGetValue(client, out var times))
            {
                return null;
            }

            Forget(times, now);
            return times.Count >= MaxFailures ? times.Peek() + Window - now : null;
        }
    }

    public void Failed(string client)
    {
        var now = clock.GetUtcNow();
        lock (failures)
        {
            if (!failures.TryGetValue(client, out var times))
            {
                if (failures.Count >= MaxClients)
                {
                    Prune(now);
                }

                failures[client] = times = new Queue<DateTimeOffset>();
            }

            Forget(times, now);
            times.Enqueue(now);
        }
    }

    private static void Forget(Queue<DateTimeOffset> times, DateTimeOffset now)
    {
        while (times.Count > 0 && times.Peek() + Window <= now)
        {
            times.Dequeue();
        }
    }

    /// <summary>Drops clients whose failures are all old; when every one is recent, the quietest half.</summary>
    private void Prune(DateTimeOffset now)
    {
        foreach (var (client, times) in failures.ToList())
        {
            Forget(times, now);
            if (times.Count == 0)
            {
                failures.Remove(client);
            }
        }

        foreach (var (client, _) in failures.OrderBy(f => f.Value.Count).Take(failures.Count >= MaxClients ? failures.Count / 2 : 0).ToList())
        {
            failures.Remove(client);
        }
    }
}
