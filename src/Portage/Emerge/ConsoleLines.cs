using System.Buffers;
using System.Runtime.CompilerServices;

namespace Gentoo.Portage.Emerge;

/// <summary>Receives one plain line of output as UTF-8 bytes; the span is valid only during the call.</summary>
public delegate void LineHandler(ReadOnlySpan<byte> line);

/// <summary>
/// Turns terminal output into plain lines: line ends are LF, CRLF, a lone CR (a progress line redrawn in place)
/// and ESC E (next line); ANSI CSI and OSC sequences, backspaces and other control characters are removed.
/// Memory stays bounded: a line longer than <see cref="MaxLineBytes"/> is cut there.
/// </summary>
public sealed class ConsoleLines(LineHandler onLine)
{
    public const int MaxLineBytes = 8192;

    // The bytes that end a line, start an escape or are dropped. Everything else (printable ASCII, tab and the bytes of
    // UTF-8 sequences) is text, copied as it is.
    private static readonly SearchValues<byte> ControlBytes = SearchValues.Create(
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 0x7f]);

    private readonly byte[] line = new byte[MaxLineBytes];
    private int length;
    private bool pendingCr;
    private EscapeState escape;

    private enum EscapeState
    {
        None,
        Escape,
        Csi,
        Osc,
        OscEscape,
    }

    /// <summary>Feeds a chunk of output; complete lines are reported as they end.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Feed(ReadOnlySpan<byte> chunk)
    {
        while (!chunk.IsEmpty)
        {
            if (escape == EscapeState.None && !pendingCr)
            {
                var plain = chunk.IndexOfAny(ControlBytes);
                if (plain < 0)
                {
                    Append(chunk);
                    return;
                }

                if (plain > 0 || chunk[0] == (byte)'\n')
                {
                    if (length == 0 && chunk[plain] == (byte)'\n')
                    {
                        // A whole plain line inside the chunk: report it where it is, without copying.
                        onLine(chunk[..Math.Min(plain, MaxLineBytes)]);
                        chunk = chunk[(plain + 1)..];
                        continue;
                    }

                    Append(chunk[..plain]);
                    chunk = chunk[plain..];
                }

                // A colour or cursor sequence (ESC [ parameters final) or a window title (ESC ] text BEL) whole in this
                // chunk: skipped in one search rather than a byte at a time; Portage colours most of its lines.
                if (chunk.Length > 2 && chunk[0] == 0x1b && SequenceLength(chunk) is var sequence and > 0)
                {
                    chunk = chunk[sequence..];
                    continue;
                }
            }

            Step(chunk[0]);
            chunk = chunk[1..];
        }
    }

    /// <summary>
    /// The length of the CSI or OSC sequence at the start of <paramref name="chunk"/>, ended as <see cref="Step"/> would
    /// end it; 0 when it is another kind or runs past the chunk (then it goes a byte at a time).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int SequenceLength(ReadOnlySpan<byte> chunk)
    {
        if (chunk[1] == (byte)'[')
        {
            var final = chunk[2..].IndexOfAnyInRange((byte)0x40, (byte)0x7e);
            return final < 0 ? 0 : final + 3;
        }

        if (chunk[1] != (byte)']')
        {
            return 0;
        }

        // BEL ends it, and ESC \; ESC followed by anything else is part of it, and so is that byte.
        for (var at = 2; at < chunk.Length;)
        {
            var end = chunk[at..].IndexOfAny((byte)0x07, (byte)0x1b);
            if (end < 0)
            {
                return 0;
            }

            at += end;
            if (chunk[at] == 0x07)
            {
                return at + 1;
            }

            if (at + 1 >= chunk.Length)
            {
                return 0;
            }

            if (chunk[at + 1] == (byte)'\\')
            {
                return at + 2;
            }

            at += 2;
        }

        return 0;
    }

    /// <summary>Reports the last line if the output did not end with a line break.</summary>
    public void Finish()
    {
        pendingCr = false;
        if (length > 0)
        {
            Emit();
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Step(byte b)
    {
        switch (escape)
        {
            case EscapeState.Escape:
                escape = b switch
                {
                    (byte)'[' => EscapeState.Csi,
                    (byte)']' => EscapeState.Osc,
                    _ => EscapeState.None,
                };
                if (b == (byte)'E')
                {
                    Emit();
                }

                return;
            case EscapeState.Csi:
                if (b is >= 0x40 and <= 0x7e)
                {
                    escape = EscapeState.None;
                }

                return;
            case EscapeState.Osc:
                escape = b switch
                {
                    0x07 => EscapeState.None,
                    0x1b => EscapeState.OscEscape,
                    _ => EscapeState.Osc,
                };
                return;
            case EscapeState.OscEscape:
                escape = b == (byte)'\\' ? EscapeState.None : EscapeState.Osc;
                return;
        }

        if (pendingCr)
        {
            pendingCr = false;
            if (b == (byte)'\n')
            {
                Emit();
                return;
            }

            // A lone CR: the terminal returns to the line start and the next text redraws it.
            Emit();
        }

        switch (b)
        {
            case (byte)'\n':
                Emit();
                break;
            case (byte)'\r':
                pendingCr = true;
                break;
            case 0x1b:
                escape = EscapeState.Escape;
                break;
            case (byte)'\t':
                Append([b]);
                break;
            case 0x08:
                if (length > 0)
                {
                    length--;
                }

                break;
            default:
                if (b >= 0x20 && b != 0x7f)
                {
                    Append([b]);
                }

                break;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Append(ReadOnlySpan<byte> bytes)
    {
        var room = Math.Min(bytes.Length, MaxLineBytes - length);
        bytes[..room].CopyTo(line.AsSpan(length));
        length += room;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Emit()
    {
        onLine(line.AsSpan(0, length));
        length = 0;
    }
}
