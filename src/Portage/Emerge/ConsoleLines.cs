using System.Text;

namespace Gentoo.Portage.Emerge;

/// <summary>
/// Turns terminal output into plain lines: line ends are LF, CRLF, a lone CR (a progress line redrawn in place)
/// and ESC E (next line); ANSI CSI and OSC sequences, backspaces and other control characters are removed.
/// Memory stays bounded: a line longer than <see cref="MaxLineBytes"/> is cut there.
/// </summary>
public sealed class ConsoleLines(Action<string> onLine)
{
    public const int MaxLineBytes = 8192;

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
    public void Feed(ReadOnlySpan<byte> chunk)
    {
        var i = 0;
        while (i < chunk.Length)
        {
            if (escape == EscapeState.None && !pendingCr)
            {
                // Fast path: copy plain bytes up to the next control byte.
                var plainEnd = i;
                while (plainEnd < chunk.Length && chunk[plainEnd] >= 0x20 && chunk[plainEnd] != 0x7f)
                {
                    plainEnd++;
                }

                if (plainEnd > i)
                {
                    Append(chunk[i..plainEnd]);
                    i = plainEnd;
                    continue;
                }
            }

            Step(chunk[i]);
            i++;
        }
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

    private void Append(ReadOnlySpan<byte> bytes)
    {
        var room = Math.Min(bytes.Length, MaxLineBytes - length);
        bytes[..room].CopyTo(line.AsSpan(length));
        length += room;
    }

    private void Emit()
    {
        onLine(Encoding.UTF8.GetString(line, 0, length));
        length = 0;
    }
}
