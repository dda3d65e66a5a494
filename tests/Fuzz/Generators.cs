using System.Text;
using CsCheck;

namespace Gentoo.Fuzz;

/// <summary>One change to a file: which kind, where (a fraction of its length), how much, with what bytes.</summary>
public sealed record Edit(int Kind, double At, int Length, byte[] Bytes);

/// <summary>Real files damaged as storage, transfers and people damage them.</summary>
public static class Mutations
{
    private static readonly uint[] Interesting = [0, 1, 0x7F, 0x80, 0xFF, 0x7FFF, 0x8000, 0xFFFF, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF];

    private static readonly Gen<Edit> Edits = Gen.Select(Gen.Int[0, 5], Gen.Double[0, 1], Gen.Int[1, 64], Gen.Byte.Array[1, 16], (kind, at, length, bytes) => new Edit(kind, at, length, bytes));

    public static Gen<byte[]> Of(IReadOnlyList<byte[]> seeds) =>
        Gen.Select(Gen.Int[0, seeds.Count - 1], Edits.Array[0, 6], (seed, edits) => edits.Aggregate(seeds[seed], Apply));

    public static string Print(byte[] bytes) => $"{bytes.Length} bytes: {Convert.ToHexString(bytes.AsSpan(0, Math.Min(bytes.Length, 512)))}";

    private static byte[] Apply(byte[] data, Edit edit)
    {
        var at = Math.Min((int)(edit.At * data.Length), data.Length);
        var length = Math.Min(edit.Length, data.Length - at);
        return edit.Kind switch
        {
            0 when at < data.Length => [.. data[..at], (byte)(data[at] ^ (edit.Bytes[0] | 1)), .. data[(at + 1)..]], // a flipped byte
            1 => data[..at], // cut short
            2 => [.. data[..at], .. edit.Bytes, .. data[at..]], // bytes let in
            3 => [.. data[..at], .. data[(at + length)..]], // bytes lost
            4 => [.. data[..(at + length)], .. data[at..]], // a run repeated
            5 when at + 4 <= data.Length => Overwrite(data, at, Interesting[edit.Bytes[0] % Interesting.Length]), // a field set to an edge value
            _ => data,
        };
    }

    private static byte[] Overwrite(byte[] data, int at, uint value)
    {
        var copy = (byte[])data.Clone();
        BitConverter.TryWriteBytes(copy.AsSpan(at, 4), value);
        return copy;
    }
}

/// <summary>Console output as a terminal delivers it: in pieces of any size, with redraws, colours cut in half, bad bytes, an early end.</summary>
public sealed record ConsoleStream(byte[] Bytes, int[] Chunks, int? ExitCode);

public static class ConsoleStreams
{
    private static readonly byte[][] Noise =
    [
        "\r"u8.ToArray(), "\r>>> Emerging (3 of 7) dev-libs/nss-3.46::gentoo\r"u8.ToArray(), "\u001b["u8.ToArray(), "\u001b[01;32m"u8.ToArray(),
        "\u001b[K"u8.ToArray(), "\u001b]0;emerge: (1 of 2)\u0007"u8.ToArray(), "\u001b[?25l"u8.ToArray(), "\u001b"u8.ToArray(), [0xFF], [0xC0, 0xAF],
        [0xE2, 0x82], [0x80], [0xF4, 0x90, 0x80, 0x80], "\n"u8.ToArray(), "\r\n"u8.ToArray(), [0], "\t"u8.ToArray(),
        " * ERROR: "u8.ToArray(), "!!! "u8.ToArray(), ">>> "u8.ToArray(), "\n\n"u8.ToArray(),
    ];

    private static readonly Gen<(int Kind, double At, int Noise, byte[] Random)> Insertions =
        Gen.Select(Gen.Int[0, 3], Gen.Double[0, 1], Gen.Int[0, Noise.Length - 1], Gen.Byte.Array[0, 64]);

    public static Gen<ConsoleStream> Of(IReadOnlyList<byte[]> logs) =>
        Gen.Select(Gen.Int[0, logs.Count - 1], Insertions.Array[0, 16], Gen.Int[1, 600].Array[1, 16], Gen.Int[-1, 255], (log, insertions, chunks, exit) =>
        {
            var bytes = logs[log];
            foreach (var (kind, at, noise, random) in insertions)
            {
                var position = Math.Min((int)(at * bytes.Length), bytes.Length);
                bytes = kind switch
                {
                    0 => [.. bytes[..position], .. Noise[noise], .. bytes[position..]],
                    1 => [.. bytes[..position], .. random, .. bytes[position..]],
                    2 => bytes[..position], // the pod killed mid-line
                    _ => [.. bytes[..position], .. Enumerable.Repeat((byte)'x', random.Length * 200), .. bytes[position..]], // a line longer than any buffer
                };
            }

            return new ConsoleStream(bytes, chunks, exit < 0 ? null : exit);
        });

    public static string Print(ConsoleStream stream) =>
        $"{stream.Bytes.Length} bytes in chunks of {string.Join(',', stream.Chunks)}, exit {stream.ExitCode}: {Convert.ToHexString(stream.Bytes.AsSpan(0, Math.Min(stream.Bytes.Length, 512)))}";
}

/// <summary>Text built from a grammar's own pieces, joined right and wrong.</summary>
public static class Grammar
{
    private static readonly Gen<string> Piece = Gen.OneOf(
        "=", ">=", "<=", "<", ">", "~", "!", "!!", "dev-libs", "sys-kernel", "x11-libs", "/", "nss", "gtk+", "linux-firmware", "-", "3.46", "1.0",
        "2.39", "_alpha", "_beta2", "_pre", "_rc1", "_p20240101", "-r1", "-r", "a", "*", ":", "0", "3=", "2/2.2", "::", "gentoo", "[", "]", "ssl",
        "-ssl", "ssl?", "!ssl?", "ssl=", "ssl(+)", ",", " ", "@world", "@", ".", "..", "99999999999999999999999999999", "é", "\t", "#");

    private static readonly Gen<string> Noise = Gen.String[Gen.Char['\0', '\u00ff'], 0, 24];

    /// <summary>Atoms: mostly pieces in grammatical order, some shuffled, some noise.</summary>
    public static readonly Gen<string> Atom = Gen.Frequency(
        (6, Gen.Select(Gen.OneOf("", "=", ">=", "<", "~", "!"), Gen.OneOf("dev-libs", "sys-kernel", "x11-libs", "a", "Z_9+.-"),
            Gen.OneOf("nss", "gtk+", "linux-firmware", "perl-File-Spec", "a-1", "b"), Gen.OneOf("", "-3.46", "-1.0_rc1-r2", "-2*", "-1.2.3b_p4", "-0"),
            Gen.OneOf("", ":0", ":3=", ":2/2.2", ":*", ":="), Gen.OneOf("", "::gentoo", "::"), Gen.OneOf("", "[ssl]", "[-ssl,ssl?]", "[ssl(+)]", "[", "[]"),
            (op, category, name, version, slot, repo, use) => $"{op}{category}/{name}{version}{slot}{repo}{use}")),
        (3, Piece.Array[1, 12].Select(string.Concat)),
        (1, Noise));

    public static readonly Gen<string> Version = Gen.Frequency(
        (6, Gen.Select(Gen.Int[0, 99999].Array[1, 4], Gen.OneOf("", "a", "z"), Gen.OneOf("", "_alpha", "_beta2", "_pre3", "_rc", "_p1", "_alpha_p2"), Gen.OneOf("", "-r0", "-r1", "-r99999999999"),
            (numbers, letter, suffix, revision) => string.Join('.', numbers) + letter + suffix + revision)),
        (3, Piece.Array[1, 8].Select(string.Concat)),
        (1, Noise));

    private static readonly Gen<string> MakeConfLine = Gen.Frequency(
        (6, Gen.Select(Gen.OneOf("CFLAGS", "USE", "FEATURES", "MAKEOPTS", "export ACCEPT_KEYWORDS", "GENTOO_MIRRORS"),
            Gen.OneOf("\"-O2 -pipe\"", "'x'", "\"${CFLAGS} -march=native\"", "${USE}", "\"a\\\"b\"", "\"line\\\ncontinued\"", "\"\"", "plain"),
            (name, value) => name + "=" + value)),
        (2, Gen.Select(Gen.OneOf("CFLAGS", "USE", "1BAD", "A B", ""), Gen.OneOf("=", " = ", "+=", ""),
            Gen.OneOf("\"-O2\"", "\"unterminated", "$", "\"${\"", "x y", "'"), (name, assign, value) => name + assign + value)),
        (1, Gen.OneOf("source /etc/portage/make.conf.local", "source", "# comment", "", "\\", "=", "${A:-b}", "$(echo)")),
        (1, Noise));

    public static readonly Gen<string> MakeConf = MakeConfLine.Array[0, 12].Select(lines => string.Join('\n', lines));

    public static readonly Gen<string> PackageLines = Gen.Select(Atom, Gen.OneOf("", " ssl", " -X wayland", "\t~amd64", " **", " #")).Array[0, 12]
        .Select(lines => string.Join('\n', lines.Select(l => l.Item1 + l.Item2)));
}
