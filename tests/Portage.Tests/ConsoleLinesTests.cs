using System.Text;
using CsCheck;
using Gentoo.Portage.Emerge;

namespace Gentoo.Portage.Tests;

/// <summary>Terminal output to plain lines: colours, titles and redraws removed, whatever pieces the output came in.</summary>
public sealed class ConsoleLinesTests
{
    // Pieces of terminal output, whole and broken: text, line ends, colour and title sequences, their parts on their own.
    private static readonly string[] Fragments =
    [
        "emerge", " ", "é", "\t", "\n", "\r", "\r\n", "\b", "\u001b[32m", "\u001b[39;49;00m", "\u001b[K", "\u001b[", "32;01", "m",
        "\u001b]0;emerge: (1 of 3) dev-libs/nss\u0007", "\u001b]2;title\u001b\\", "\u001b]", "\u0007", "\\", "\u001b", "\u001bE", "\u001b(B",
    ];

    private static List<string> LinesOf(byte[] output, IEnumerable<int> chunkSizes)
    {
        var lines = new List<string>();
        var reader = new ConsoleLines(line => lines.Add(Encoding.UTF8.GetString(line)));
        var at = 0;
        foreach (var size in chunkSizes)
        {
            var take = Math.Min(size, output.Length - at);
            reader.Feed(output.AsSpan(at, take));
            at += take;
        }

        reader.Feed(output.AsSpan(at));
        reader.Finish();
        return lines;
    }

    [Fact]
    public void Colour_and_title_sequences_are_removed_and_the_text_around_them_kept()
    {
        var output = Encoding.UTF8.GetBytes(
            "\u001b]0;emerge: (1 of 3) dev-libs/nss\u0007>>> \u001b[32mEmerging\u001b[39;49;00m (\u001b[01m1\u001b[0m of 3)\n"
            + " \u001b[31;01m*\u001b[0m ERROR\u001b]2;t\u001b\\ here\r\nredrawn\rfinal\n");

        LinesOf(output, []).ShouldBe([">>> Emerging (1 of 3)", " * ERROR here", "redrawn", "final"]);
    }

    [Fact]
    public void Lines_are_the_same_fed_whole_or_a_byte_at_a_time()
    {
        // A byte at a time takes the byte-by-byte path only; fed whole, sequences are skipped in one search each.
        Gen.Int[0, Fragments.Length - 1].Array[0, 60].Select(picks => Encoding.UTF8.GetBytes(string.Concat(picks.Select(p => Fragments[p]))))
            .Sample(output => LinesOf(output, []).ShouldBe(LinesOf(output, Enumerable.Repeat(1, output.Length)), Encoding.UTF8.GetString(output)), iter: 20_000);
    }

    [Fact]
    public void Lines_are_the_same_whatever_the_chunks()
    {
        Gen.Select(Gen.Int[0, Fragments.Length - 1].Array[0, 60], Gen.Int[1, 12].Array[1, 40])
            .Select((picks, sizes) => (Encoding.UTF8.GetBytes(string.Concat(picks.Select(p => Fragments[p]))), sizes))
            .Sample(t => LinesOf(t.Item1, t.sizes).ShouldBe(LinesOf(t.Item1, []), Encoding.UTF8.GetString(t.Item1)), iter: 20_000);
    }
}
