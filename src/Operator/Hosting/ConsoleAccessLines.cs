using System.Text;
using Gentoo.Binhost;
using Serilog.Events;
using Serilog.Formatting;
using Serilog.Parsing;

namespace Gentoo.Operator.Hosting;

/// <summary>
/// The binhost's access lines, rendered by the formatter of every other line and written to the same console stream,
/// a batch at a time through one buffer and one flush (so nothing waits in the buffer between batches). Going around the logger pipeline (no capture of the message's
/// values, no filters, no second queue) is what lets the binhost log every request and still keep up with nginx.
/// </summary>
public sealed class ConsoleAccessLines(ITextFormatter formatter, Stream console, TimeZoneInfo zone) : IAccessLineWriter, IDisposable
{
    private static readonly MessageTemplate Template = new MessageTemplateParser().Parse(AccessLog.Template);

    private static readonly LogEventProperty Source = new("SourceContext", new ScalarValue(AccessLog.Category));

    private readonly StreamWriter output = new(console, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false), 64 * 1024);

    public void Write(IReadOnlyList<ServedRequest> requests)
    {
        foreach (var r in requests)
        {
            // The properties in the template's order, then the category: as the logger would have captured them.
            LogEventProperty[] properties =
            [
                new("Method", new ScalarValue(r.Method)),
                new("Path", new ScalarValue(r.Path)),
                new("Status", new ScalarValue(r.Status)),
                new("Bytes", new ScalarValue(r.Bytes)),
                new("Milliseconds", new ScalarValue(r.Took.TotalMilliseconds)),
                new("Client", new ScalarValue(r.Client?.ToString())),
                Source,
            ];
            formatter.Format(new LogEvent(TimeZoneInfo.ConvertTime(r.At, zone), LogEventLevel.Information, null, Template, properties), output);
        }

        output.Flush();
    }

    // The console stream stays open for whatever else writes to it.
    public void Dispose() => output.Flush();
}
