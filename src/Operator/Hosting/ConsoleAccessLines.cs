using System.Text;
using Gentoo.Binhost;
using Serilog.Events;
using Serilog.Formatting;
using Serilog.Parsing;

namespace Gentoo.Operator.Hosting;

/// <summary>
/// The binhost's access lines, rendered by the formatter of every other line and written to the same console stream
/// a batch at a time. Going around the logger pipeline (no capture of the message's values, no filters, no second
/// queue) is what lets the binhost log every request and still keep up with nginx.
/// </summary>
/// <remarks>
/// Other threads write their lines to the same descriptor, which in a container is a pipe: the kernel keeps a write
/// whole only up to <see cref="Atomic"/> bytes, so lines go out in writes of whole lines no larger than that (a line
/// longer than it on its own), and never a piece of a line with another one landing in it.
/// </remarks>
public sealed class ConsoleAccessLines(ITextFormatter formatter, Stream console, TimeZoneInfo zone) : IAccessLineWriter
{
    /// <summary>PIPE_BUF on Linux: the largest write to a pipe no other writer's bytes can land in.</summary>
    public const int Atomic = 4096;

    private static readonly MessageTemplate Template = new MessageTemplateParser().Parse(AccessLog.Template);

    private static readonly LogEventProperty Source = new("SourceContext", new ScalarValue(AccessLog.Category));

    private static readonly UTF8Encoding Utf8 = new(encoderShouldEmitUTF8Identifier: false);

    private readonly StringBuilder line = new();
    private readonly byte[] pending = new byte[Atomic];
    private int filled;

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
            line.Clear();
            using (var rendering = new StringWriter(line, System.Globalization.CultureInfo.InvariantCulture))
            {
                formatter.Format(new LogEvent(TimeZoneInfo.ConvertTime(r.At, zone), LogEventLevel.Information, null, Template, properties), rendering);
            }

            Append(line.ToString());
        }

        WritePending();
    }

    private void Append(string rendered)
    {
        var length = Utf8.GetByteCount(rendered);
        if (filled + length > Atomic)
        {
            WritePending();
        }

        if (length > Atomic)
        {
            console.Write(Utf8.GetBytes(rendered)); // too long to keep whole anyway
            return;
        }

        filled += Utf8.GetBytes(rendered, pending.AsSpan(filled));
    }

    private void WritePending()
    {
        if (filled > 0)
        {
            console.Write(pending, 0, filled);
            filled = 0;
        }
    }
}
