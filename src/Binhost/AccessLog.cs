using System.Net;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;

namespace Gentoo.Binhost;

/// <summary>A request as the access log tells it.</summary>
public readonly record struct ServedRequest(DateTimeOffset At, string Method, string Path, int Status, long Bytes, TimeSpan Took, IPAddress? Client);

/// <summary>Where the access log's lines go: a batch at a time, from one writer, so a writer may buffer and flush once per batch.</summary>
public interface IAccessLineWriter
{
    void Write(IReadOnlyList<ServedRequest> requests);
}

/// <summary>
/// The binhost's access log: one line per request. A request only queues what it has to say (no rendering, no lock
/// on the console); one writer drains the queue in batches, and all of it when the binhost stops. After a batch the
/// writer rests for <see cref="Pause"/> (as nginx's buffered access log flushes once a second): under load a request
/// then only queues its line, where waking a waiting writer for each one cost a fifth of the binhost's throughput
/// (bench/binhost). A line after a quiet spell is written at once.
/// </summary>
public sealed class AccessLog : IDisposable
{
    /// <summary>The log category of the access log's lines.</summary>
    public const string Category = "Gentoo.Binhost.Requests";

    /// <summary>What each line says, as a message template.</summary>
    public const string Template = "{Method} {Path} {Status} {Bytes} bytes in {Milliseconds:F1} ms for {Client}";

    /// <summary>Requests held while the writer falls behind; beyond them requests are counted and not logged, never the memory grown.</summary>
    public const int Capacity = 65_536;

    /// <summary>How long the writer rests after a batch.</summary>
    public static readonly TimeSpan Pause = TimeSpan.FromMilliseconds(50);

    private const int BatchLimit = 4_096;

    private readonly Channel<ServedRequest> queue = Channel.CreateBounded<ServedRequest>(new BoundedChannelOptions(Capacity)
    {
        SingleReader = true,
        FullMode = BoundedChannelFullMode.Wait, // only TryWrite: a full queue says so (the Drop modes say every write succeeded)
    });

    private readonly IAccessLineWriter lines;
    private readonly ILogger logger;
    private readonly TimeProvider clock;
    private readonly CancellationTokenSource stopping = new();
    private readonly Task writer;
    private long unlogged;

    /// <param name="lines">Where lines go; none: through <paramref name="logger"/>.</param>
    /// <param name="logger">The access log's category, for what the log says about itself (and its lines when no writer is given).</param>
    /// <param name="clock">The writer's rests.</param>
    public AccessLog(IAccessLineWriter? lines, ILogger logger, TimeProvider clock)
    {
        this.lines = lines ?? new LoggerLines(logger);
        this.logger = logger;
        this.clock = clock;
        writer = Task.Run(WriteAsync);
    }

    /// <summary>Queues a request's line.</summary>
    public void Record(in ServedRequest request)
    {
        if (!queue.Writer.TryWrite(request))
        {
            Interlocked.Increment(ref unlogged);
        }
    }

    private async Task WriteAsync()
    {
        var reader = queue.Reader;
        var batch = new List<ServedRequest>(BatchLimit);
        while (await reader.WaitToReadAsync())
        {
            while (batch.Count < BatchLimit && reader.TryRead(out var request))
            {
                batch.Add(request);
            }

            try
            {
                lines.Write(batch);
            }
            catch (Exception e)
            {
                // The writer goes on: a line it could not write must not stop every later one.
                logger.LogWarning("{Count} requests went unlogged: the access log cannot be written: {Message}", batch.Count, e.Message);
            }

            batch.Clear();
            if (Interlocked.Exchange(ref unlogged, 0) is > 0 and var lost)
            {
                logger.LogWarning("{Count} requests went unlogged: the access log fell {Capacity} lines behind", lost, Capacity);
            }

            // Cut short when the binhost stops: what is queued then is written without waiting.
            await Task.Delay(Pause, clock, stopping.Token).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    /// <summary>Writes every queued line, then stops.</summary>
    public void Dispose()
    {
        queue.Writer.TryComplete();
        stopping.Cancel();
        writer.GetAwaiter().GetResult();
        stopping.Dispose();
    }

    private sealed class LoggerLines(ILogger logger) : IAccessLineWriter
    {
        public void Write(IReadOnlyList<ServedRequest> requests)
        {
            foreach (var r in requests)
            {
#pragma warning disable CA2254 // the template is a constant, shared with writers that render it themselves
                logger.LogInformation(Template, r.Method, r.Path, r.Status, r.Bytes, r.Took.TotalMilliseconds, r.Client);
#pragma warning restore CA2254
            }
        }
    }
}
