using System.Text;
using CsCheck;
using Gentoo.Portage.Atoms;
using Gentoo.Portage.Binhost;
using Gentoo.Portage.Config;
using Gentoo.Portage.Elf;
using Gentoo.Portage.Emerge;
using Gentoo.Portage.Signing;

namespace Gentoo.Fuzz;

/// <summary>A parser under fuzzing: its name, its share of a run's inputs, and how to run it for a number of inputs.</summary>
public sealed record FuzzTarget(string Name, double Share, Func<FuzzSession, long, FuzzResult> Run);

/// <summary>
/// Everything that reads what the outside world writes: emerge's console output, ELF files, Packages indexes, GPKG
/// packages, atoms and versions, OpenPGP keys, make.conf and package.* lines. Each starts from real files (tests/Fixtures)
/// and damages them as transfers, terminals and people do, or builds text from the grammar's own pieces.
/// </summary>
public static class FuzzTargets
{
    public static IReadOnlyList<FuzzTarget> All(string fixtures)
    {
        byte[][] Files(string directory, string pattern) =>
            [.. Directory.GetFiles(Path.Combine(fixtures, directory), pattern, SearchOption.AllDirectories).Order(StringComparer.Ordinal).Select(File.ReadAllBytes)];

        var logs = Files(Path.Combine("portage", "logs"), "*.log");
        var elves = new[] { "hello-glibc", "libkver-abi-3.17.0.so", "nostart-noabi" }.Select(f => File.ReadAllBytes(Path.Combine(fixtures, "portage", "elf", f))).ToArray();
        var packages = Files(Path.Combine("portage", "pkgdir"), "*.gpkg.tar");
        var index = File.ReadAllBytes(Path.Combine(fixtures, "portage", "pkgdir", "Packages"));
        var keys = Files("signing", "*.asc");
        var now = new DateTimeOffset(2026, 12, 1, 0, 0, 0, TimeSpan.Zero);

        return
        [
            new("emerge-output", 0.25, (session, count) => session.Run("emerge-output", ConsoleStreams.Of(logs), Classify, [], count, ConsoleStreams.Print)),
            new("elf", 0.10, (session, count) => session.Run("elf", Mutations.Of(elves), bytes => ElfAbiTag.Read("fuzz", new MemoryStream(bytes)), [], count, Mutations.Print)),
            new("packages-index", 0.10, (session, count) => session.Run("packages-index", Mutations.Of([index]).Select(Latin1OrUtf8), text => PackagesIndex.Parse(text), [typeof(FormatException)], count)),
            new("gpkg", 0.05, (session, count) => session.Run("gpkg", Mutations.Of(packages), bytes => Gpkg.Read(new MemoryStream(bytes), "fuzz.gpkg.tar", now), [typeof(InvalidDataException)], count, Mutations.Print)),
            new("atoms", 0.15, (session, count) => session.Run("atoms", Grammar.Atom, ParseAtom, [], count)),
            new("versions", 0.10, (session, count) => session.Run("versions", Gen.Select(Grammar.Version, Grammar.Version), CompareVersions, [], count)),
            new("openpgp-keys", 0.10, (session, count) => session.Run("openpgp-keys", Mutations.Of([.. keys, .. keys.Select(Dearmored)]), bytes => SigningKey.Parse(bytes, now), [typeof(SigningKeyException)], count, Mutations.Print)),
            new("make-conf", 0.10, (session, count) => session.Run("make-conf", Grammar.MakeConf, text => MakeConf.Parse(text), [typeof(MakeConfException)], count)),
            new("package-lines", 0.05, (session, count) => session.Run("package-lines", Grammar.PackageLines, PackageLines, [], count)),
        ];
    }

    private static void Classify(ConsoleStream stream)
    {
        var classifier = new EmergeClassifier();
        var at = 0;
        for (var i = 0; at < stream.Bytes.Length; i++)
        {
            var size = Math.Min(stream.Chunks[i % stream.Chunks.Length], stream.Bytes.Length - at);
            classifier.Lines.Feed(stream.Bytes.AsSpan(at, size));
            at += size;
        }

        classifier.Complete(stream.ExitCode);
    }

    /// <summary>An atom that parses must print back as one that parses to the same, and match without throwing.</summary>
    private static void ParseAtom(string text)
    {
        if (!Atom.TryParse(text, out var atom, out var error))
        {
            _ = error ?? throw new InvalidOperationException("a refused atom without a reason");
            return;
        }

        var again = Atom.Parse(atom.ToString());
        if (again.ToString() != atom.ToString())
        {
            throw new InvalidOperationException($"'{text}' prints as '{atom}', which reads back as '{again}'");
        }

        atom.Matches(atom.Category, atom.Name, atom.Version ?? PackageVersion.Parse("1"), atom.Slot);
    }

    /// <summary>Comparison is a total order: antisymmetric, and equal versions compare equal both ways.</summary>
    private static void CompareVersions((string A, string B) pair)
    {
        if (!PackageVersion.TryParse(pair.A, out var a) || !PackageVersion.TryParse(pair.B, out var b))
        {
            return;
        }

        if (Math.Sign(a.CompareTo(b)) != -Math.Sign(b.CompareTo(a)) || a.CompareTo(a) != 0)
        {
            throw new InvalidOperationException($"'{pair.A}' and '{pair.B}' do not compare as an order");
        }
    }

    /// <summary>As the agent checks package.* files: each setting line starts with an atom.</summary>
    private static void PackageLines(string text)
    {
        foreach (var line in text.Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0 && !l.StartsWith('#')))
        {
            _ = Atom.TryParse(line.Split((char[])[' ', '\t'], 2)[0], out _, out _);
        }
    }

    private static string Latin1OrUtf8(byte[] bytes) => bytes.Length % 2 == 0 ? Encoding.UTF8.GetString(bytes) : Encoding.Latin1.GetString(bytes);

    /// <summary>The binary packets inside an armored key, as gpg --export (without --armor) writes them.</summary>
    private static byte[] Dearmored(byte[] armored)
    {
        var lines = Encoding.ASCII.GetString(armored).Split('\n').Select(l => l.TrimEnd('\r')).ToList();
        var body = lines.SkipWhile(l => l.Length > 0).Skip(1).TakeWhile(l => !l.StartsWith('=') && !l.StartsWith("-----", StringComparison.Ordinal));
        return Convert.FromBase64String(string.Concat(body));
    }
}
