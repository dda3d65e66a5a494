using System.Text;
using Serilog.Core;
using Serilog.Events;
using Serilog.Formatting;

namespace Gentoo.Operator.Hosting;

/// <summary>
/// Writes each batch of log lines to the console (standard output or error) through one buffer and one flush: a write
/// per batch, where the console sink makes one per line under a lock every request thread waits on.
/// </summary>
internal sealed class BatchedConsoleSink(ITextFormatter formatter, Stream console) : IBatchedLogEventSink, IDisposable
{
    /// <summary>Lines held while the console falls behind; beyond them lines are dropped, never the memory grown.</summary>
    public const int QueueLimit = 100_000;

    private readonly StreamWriter output = new(console, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false), 64 * 1024);

    public Task EmitBatchAsync(IReadOnlyCollection<LogEvent> batch)
    {
        foreach (var line in batch)
        {
            formatter.Format(line, output);
        }

        output.Flush();
        return Task.CompletedTask;
    }

    // The console stays open for whatever else writes to it.
    public void Dispose() => output.Flush();
}
