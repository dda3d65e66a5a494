namespace Gentoo.Runtime;

/// <summary>
/// The controller work queue: a key waits at most once (duplicates collapse), a key being processed is never handed
/// out again until it is done (a change meanwhile re-queues it afterwards), per-key exponential backoff for
/// failures, delayed adds for requeues.
/// </summary>
public sealed class WorkQueue<TKey>(TimeProvider clock, TimeSpan baseDelay, TimeSpan maxDelay) : IDisposable
    where TKey : notnull
{
    private readonly Lock gate = new();
    private readonly Queue<TKey> ready = new();
    private readonly HashSet<TKey> dirty = [];
    private readonly HashSet<TKey> processing = [];
    private readonly Dictionary<TKey, int> failures = [];
    private readonly Dictionary<TKey, ITimer> timers = [];
    private readonly SemaphoreSlim available = new(0);
    private bool shutDown;

    /// <summary>Keys waiting to be processed.</summary>
    public int Depth
    {
        get
        {
            lock (gate)
            {
                return ready.Count;
            }
        }
    }

    public void Add(TKey key)
    {
        lock (gate)
        {
            if (shutDown || !dirty.Add(key))
            {
                return;
            }

            if (processing.Contains(key))
            {
                return;
            }

            ready.Enqueue(key);
        }

        available.Release();
    }

    /// <summary>Adds the key after a delay; an earlier pending delay for the same key wins.</summary>
    public void AddAfter(TKey key, TimeSpan delay)
    {
        if (delay <= TimeSpan.Zero)
        {
            Add(key);
            return;
        }

        lock (gate)
        {
            if (shutDown)
            {
                return;
            }

            if (timers.Remove(key, out var existing))
            {
                existing.Dispose();
            }

            timers[key] = clock.CreateTimer(
                _ =>
                {
                    lock (gate)
                    {
                        if (timers.Remove(key, out var fired))
                        {
                            fired.Dispose();
                        }
                    }

                    Add(key);
                },
                null,
                delay,
                Timeout.InfiniteTimeSpan);
        }
    }

    /// <summary>Adds the key after its backoff: base * 2^(failures), capped. Returns the delay used.</summary>
    public TimeSpan AddRateLimited(TKey key)
    {
        int count;
        lock (gate)
        {
            count = failures[key] = failures.GetValueOrDefault(key) + 1;
        }

        var delay = TimeSpan.FromTicks((long)Math.Min(maxDelay.Ticks, baseDelay.Ticks * Math.Pow(2, Math.Min(count - 1, 40))));
        AddAfter(key, delay);
        return delay;
    }

    /// <summary>Forgets the key's failures: the next failure starts the backoff anew.</summary>
    public void Forget(TKey key)
    {
        lock (gate)
        {
            failures.Remove(key);
        }
    }

    public int Failures(TKey key)
    {
        lock (gate)
        {
            return failures.GetValueOrDefault(key);
        }
    }

    /// <summary>Waits for a key; null once the queue is shut down.</summary>
    public async Task<TKey?> TakeAsync(CancellationToken ct)
    {
        while (true)
        {
            await available.WaitAsync(ct);
            lock (gate)
            {
                if (ready.Count == 0)
                {
                    if (shutDown)
                    {
                        return default;
                    }

                    continue;
                }

                var key = ready.Dequeue();
                dirty.Remove(key);
                processing.Add(key);
                return key;
            }
        }
    }

    /// <summary>Marks processing of the key finished; if it changed meanwhile it is queued again.</summary>
    public void Done(TKey key)
    {
        var requeue = false;
        lock (gate)
        {
            processing.Remove(key);
            if (dirty.Contains(key) && !shutDown)
            {
                ready.Enqueue(key);
                requeue = true;
            }
        }

        if (requeue)
        {
            available.Release();
        }
    }

    public void ShutDown()
    {
        lock (gate)
        {
            shutDown = true;
            foreach (var timer in timers.Values)
            {
                timer.Dispose();
            }

            timers.Clear();
        }

        available.Release(int.MaxValue / 2);
    }

    public void Dispose()
    {
        ShutDown();
        available.Dispose();
    }
}
