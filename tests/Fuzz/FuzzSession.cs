using System.Collections.Concurrent;
using System.Diagnostics;
using CsCheck;

namespace Gentoo.Fuzz;

/// <summary>What one target's run met: inputs, how many were refused with a documented parse error, the worst input's time and allocation.</summary>
public sealed record FuzzResult(string Target, long Inputs, long Refused, TimeSpan Slowest, long MostAllocated);

/// <summary>
/// Runs parsers on generated inputs with CsCheck (which shrinks a failing input to a small one and prints its seed),
/// each input bounded: it must finish within <see cref="MaxTime"/> and allocate at most <see cref="MaxAllocation"/>,
/// and may throw only its parser's documented errors. What is in flight is visible to a watchdog, for inputs that
/// never finish.
/// </summary>
public sealed class FuzzSession(int threads, string? seed = null)
{
    public static readonly TimeSpan MaxTime = TimeSpan.FromSeconds(2);
    public const long MaxAllocation = 256L << 20;

    private readonly ConcurrentDictionary<int, (string Target, long Started)> inFlight = new();

    /// <summary>The oldest input still running: which target, and for how long.</summary>
    public (string Target, TimeSpan Running)? Oldest() => inFlight.Values.Select(v => ((string, long)?)v).MinBy(v => v!.Value.Item2) is var (target, started)
        ? (target, Stopwatch.GetElapsedTime(started))
        : null;

    public FuzzResult Run<T>(string target, Gen<T> inputs, Action<T> parse, IReadOnlyList<Type> documented, long count, Func<T, string>? print = null)
    {
        long done = 0, refused = 0, slowest = 0, mostAllocated = 0;
        inputs.Sample(input =>
        {
            var thread = Environment.CurrentManagedThreadId;
            var allocated = GC.GetAllocatedBytesForCurrentThread();
            var started = Stopwatch.GetTimestamp();
            inFlight[thread] = (target, started);
            try
            {
                parse(input);
            }
            catch (Exception e) when (documented.Contains(e.GetType()))
            {
                Interlocked.Increment(ref refused);
            }
            finally
            {
                inFlight.TryRemove(thread, out _);
            }

            var elapsed = Stopwatch.GetElapsedTime(started);
            var bytes = GC.GetAllocatedBytesForCurrentThread() - allocated;
            if (elapsed > MaxTime)
            {
                throw new TimeoutException($"{target}: one input took {elapsed.TotalMilliseconds:F0} ms (bound: {MaxTime.TotalMilliseconds:F0} ms)");
            }

            if (bytes > MaxAllocation)
            {
                throw new InsufficientMemoryException($"{target}: one input allocated {bytes >> 20} MiB (bound: {MaxAllocation >> 20} MiB)");
            }

            Interlocked.Increment(ref done);
            Max(ref slowest, elapsed.Ticks);
            Max(ref mostAllocated, bytes);
        }, seed: seed, iter: count, threads: threads, print: print);
        return new FuzzResult(target, done, refused, TimeSpan.FromTicks(slowest), mostAllocated);
    }

    private static void Max(ref long location, long value)
    {
        for (var current = Volatile.Read(ref location); value > current; current = Volatile.Read(ref location))
        {
            if (Interlocked.CompareExchange(ref location, value, current) == current)
            {
                return;
            }
        }
    }
}
