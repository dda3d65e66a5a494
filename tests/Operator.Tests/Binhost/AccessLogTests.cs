using System.Net;
using System.Threading.Channels;
using Gentoo.Binhost;
using Gentoo.Operator.Hosting;
using Microsoft.Extensions.Logging;
using Serilog.Core;
using Serilog.Events;
using Serilog.Extensions.Logging;

namespace Gentoo.Operator.Tests.Binhost;

public sealed class AccessLogTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void An_access_line_reads_as_the_operators_logger_writes_it(bool json)
    {
        var options = new OperatorOptions { JsonLogs = json };
        var captured = new Captured();
        using (var serilog = new Serilog.LoggerConfiguration().WriteTo.Sink(captured).CreateLogger())
        using (var factory = new SerilogLoggerFactory(serilog))
        {
#pragma warning disable CA2254 // the access log's own template
            factory.CreateLogger(AccessLog.Category).LogInformation(AccessLog.Template, "GET", "/app-misc/greeter/greeter-1.0-1.gpkg.tar", 200, 20480L, 0.4242, IPAddress.IPv6Loopback);
#pragma warning restore CA2254
        }

        var logged = captured.Events.ShouldHaveSingleItem();
        var expected = new StringWriter();
        OperatorHost.Formatter(options).Format(logged, expected);

        var console = new MemoryStream();
        new ConsoleAccessLines(OperatorHost.Formatter(options), console, TimeZoneInfo.Local)
            .Write([new ServedRequest(logged.Timestamp.ToUniversalTime(), "GET", "/app-misc/greeter/greeter-1.0-1.gpkg.tar", 200, 20480, TimeSpan.FromMilliseconds(0.4242), IPAddress.IPv6Loopback)]);

        var written = System.Text.Encoding.UTF8.GetString(console.ToArray());
        written.ShouldBe(expected.ToString());
        written.ShouldContain(json
            ? "\"Method\":\"GET\",\"Path\":\"/app-misc/greeter/greeter-1.0-1.gpkg.tar\",\"Status\":200,\"Bytes\":20480,\"Milliseconds\":0.4242,\"Client\":\"::1\",\"SourceContext\":\"Gentoo.Binhost.Requests\""
            : $"INF {AccessLog.Category}: GET /app-misc/greeter/greeter-1.0-1.gpkg.tar 200 20480 bytes in 0.4 ms for ::1 {{}}");
    }

    [Fact]
    public async Task Requests_queued_before_the_binhost_stops_are_all_written_and_those_beyond_the_queue_are_counted()
    {
        var captured = new Captured();
        using var serilog = new Serilog.LoggerConfiguration().WriteTo.Sink(captured).CreateLogger();
        using var factory = new SerilogLoggerFactory(serilog);
        var lines = new StuckConsole();
        var log = new AccessLog(lines, factory.CreateLogger(AccessLog.Category), TimeProvider.System);
        ServedRequest Request(int i) => new(DateTimeOffset.UnixEpoch, "GET", $"/{i}", 200, i, TimeSpan.Zero, IPAddress.Loopback);

        log.Record(Request(0));
        await lines.Writing.Task.WaitAsync(TimeSpan.FromSeconds(10)); // the writer holds request 0: the queue is empty
        for (var i = 1; i <= AccessLog.Capacity + 10; i++)
        {
            log.Record(Request(i));
        }

        lines.Console.Release();
        log.Dispose();

        lines.Written.Select(r => r.Path).ShouldBe(Enumerable.Range(0, AccessLog.Capacity + 1).Select(i => $"/{i}"));
        var warning = captured.Events.ShouldHaveSingleItem();
        warning.Level.ShouldBe(LogEventLevel.Warning);
        warning.RenderMessage().ShouldBe($"10 requests went unlogged: the access log fell {AccessLog.Capacity} lines behind");
    }

    [Fact]
    public async Task Under_load_the_writer_takes_the_lines_of_its_rest_as_one_batch_and_after_a_quiet_spell_a_line_at_once()
    {
        using var factory = new SerilogLoggerFactory(new Serilog.LoggerConfiguration().CreateLogger(), dispose: true);
        var clock = new HeldTimers();
        var lines = new Batches();
        var log = new AccessLog(lines, factory.CreateLogger(AccessLog.Category), clock);
        ServedRequest Request(int i) => new(DateTimeOffset.UnixEpoch, "GET", $"/{i}", 200, i, TimeSpan.Zero, IPAddress.Loopback);

        log.Record(Request(0));
        (await lines.NextAsync()).ShouldBe(["/0"], "the first line after a quiet spell is written at once");
        var rest = await clock.NextTimerAsync();
        rest.Due.ShouldBe(AccessLog.Pause);
        for (var i = 1; i <= 100; i++)
        {
            log.Record(Request(i)); // while the writer rests: queued, nobody woken
        }

        rest.Fire();
        (await lines.NextAsync()).ShouldBe(Enumerable.Range(1, 100).Select(i => $"/{i}"), "the lines of a rest are one batch");
        (await clock.NextTimerAsync()).Fire();

        log.Record(Request(101));
        (await lines.NextAsync()).ShouldBe(["/101"]);
        await clock.NextTimerAsync(); // resting, never fired: stopping cuts the rest short
        log.Record(Request(102));
        log.Dispose();
        (await lines.NextAsync()).ShouldBe(["/102"], "what is queued when the binhost stops is written");
    }

    [Fact]
    public void Access_lines_reach_the_console_in_writes_of_whole_lines_a_pipe_keeps_whole()
    {
        var console = new RecordingStream();
        var lines = new ConsoleAccessLines(OperatorHost.Formatter(new OperatorOptions()), console, TimeZoneInfo.Utc);
        var requests = Enumerable.Range(0, 500).Select(i => new ServedRequest(DateTimeOffset.UnixEpoch, "GET", $"/app-misc/greeter/greeter-{i}-1.gpkg.tar", 200, i, TimeSpan.Zero, IPAddress.Loopback)).ToList();
        var huge = new ServedRequest(DateTimeOffset.UnixEpoch, "GET", "/" + new string('x', 2 * ConsoleAccessLines.Atomic), 404, 0, TimeSpan.Zero, IPAddress.Loopback);

        lines.Write([.. requests.Take(250), huge, .. requests.Skip(250)]);

        console.Writes.Count.ShouldBeGreaterThan(10);
        console.Writes.Select(write => write.Last()).ShouldAllBe(last => last == (byte)'\n');
        console.Writes.Where(write => write.Length > ConsoleAccessLines.Atomic).ShouldHaveSingleItem().Length.ShouldBeGreaterThan(2 * ConsoleAccessLines.Atomic);
        var text = System.Text.Encoding.UTF8.GetString([.. console.Writes.SelectMany(write => write)]).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        text.Length.ShouldBe(501);
        text[0].ShouldBe("00:00:00 INF Gentoo.Binhost.Requests: GET /app-misc/greeter/greeter-0-1.gpkg.tar 200 0 bytes in 0.0 ms for 127.0.0.1 {}");
        text[250].ShouldContain(" 404 0 bytes");
        text[^1].ShouldContain("greeter-499-1.gpkg.tar");
    }

    private sealed class RecordingStream : MemoryStream
    {
        public List<byte[]> Writes { get; } = [];

        public override void Write(byte[] buffer, int offset, int count) => Writes.Add(buffer[offset..(offset + count)]);

        public override void Write(ReadOnlySpan<byte> buffer) => Writes.Add(buffer.ToArray());
    }

    /// <summary>A console that does not take the first batch until released.</summary>
    private sealed class StuckConsole : IAccessLineWriter
    {
        public TaskCompletionSource Writing { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public SemaphoreSlim Console { get; } = new(0);

        public List<ServedRequest> Written { get; } = [];

        public void Write(IReadOnlyList<ServedRequest> requests)
        {
            Writing.TrySetResult();
            Console.Wait();
            Console.Release();
            Written.AddRange(requests);
        }
    }

    /// <summary>The batches the writer hands over, one at a time.</summary>
    private sealed class Batches : IAccessLineWriter
    {
        private readonly Channel<string[]> written = Channel.CreateUnbounded<string[]>();

        public void Write(IReadOnlyList<ServedRequest> requests) => written.Writer.TryWrite([.. requests.Select(r => r.Path)]);

        public async Task<string[]> NextAsync() => await written.Reader.ReadAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10));
    }

    /// <summary>A clock whose timers fire only when the test fires them.</summary>
    private sealed class HeldTimers : TimeProvider
    {
        private readonly Channel<HeldTimer> created = Channel.CreateUnbounded<HeldTimer>();

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
        {
            var timer = new HeldTimer(() => callback(state), dueTime);
            created.Writer.TryWrite(timer);
            return timer;
        }

        public async Task<HeldTimer> NextTimerAsync() => await created.Reader.ReadAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10));
    }

    private sealed class HeldTimer(Action fire, TimeSpan due) : ITimer
    {
        public TimeSpan Due => due;

        public void Fire() => fire();

        public bool Change(TimeSpan dueTime, TimeSpan period) => true;

        public void Dispose()
        {
        }

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }

    private sealed class Captured : ILogEventSink
    {
        public List<LogEvent> Events { get; } = [];

        public void Emit(LogEvent logEvent) => Events.Add(logEvent);
    }
}
