using System.Buffers;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.RegularExpressions;
using Gentoo.Portage.Atoms;
using Gentoo.Portage.Binhost;

namespace Gentoo.Portage.Emerge;

/// <summary>How the classifier writes the fixes it proposes.</summary>
public sealed record ClassifierOptions
{
    /// <summary>How wide accepted keywords and licenses are written, so the fix survives version bumps.</summary>
    public AtomScope KeywordScope { get; init; } = AtomScope.Slot;

    /// <summary>Looks up the slot of "category/name-version" (the agent asks Portage); null when unknown.</summary>
    public Func<string, string?>? SlotOf { get; init; }

    /// <summary>Most lines the excerpt keeps.</summary>
    public int ExcerptLines { get; init; } = 60;
}

/// <summary>
/// Classifies the console output of one emerge run, streamed line by line: the outcome class, the atoms involved,
/// the failing phase, the build log, packages merged and binary packages re-used, a bounded excerpt and the
/// configuration changes emerge proposed. Memory is bounded whatever the size of the output.
/// Lines stay UTF-8 bytes: a line becomes a string only when its start (or an anchor inside it) says it matters, so
/// the compiler output that makes up most of a build costs a search for a few anchors and a copy into the ring of
/// recent lines.
/// </summary>
public sealed partial class EmergeClassifier
{
    private const int RecentLines = 20;
    private const int ExcerptLineChars = 500;

    // Enough bytes for the characters an excerpt line keeps: UTF-8 gives at least one UTF-16 char per 4 bytes.
    private const int RememberedBytes = 4 * ExcerptLineChars + 48;
    private const int MaxListed = 512;

    // An atom with its repository is a few dozen characters; a "word" longer than this on a merge line is not one.
    private const int AtomChars = 512;
    private const int MaxAtomNames = 4096;
    private static readonly SearchValues<byte> AsciiWhiteSpace = SearchValues.Create(" \t\n\v\f\r"u8);
    private static readonly string[] Phases = ["setup", "unpack", "prepare", "configure", "compile", "test", "install", "preinst", "postinst"];

    private readonly ClassifierOptions options;
    private readonly byte[] recent = new byte[RecentLines * RememberedBytes];
    private readonly int[] recentLengths = new int[RecentLines];
    private int recentNext;
    private int recentCount;
    private readonly List<string> excerpt = [];
    private readonly Dictionary<string, (bool Binary, string? Phase)> started = new(StringComparer.Ordinal);
    private readonly List<string> startOrder = [];
    private readonly List<string> completed = [];
    private readonly HashSet<string> completedSet = new(StringComparer.Ordinal);
    private readonly HashSet<string> atomNames = new(StringComparer.Ordinal);
    private readonly List<(string Atom, string? Phase)> failures = [];
    private readonly HashSet<string> fetchFailed = new(StringComparer.Ordinal);
    private readonly List<string> suggested = [];
    private readonly List<ConfigurationFix> fixes = [];
    private readonly Dictionary<OutcomeClass, List<string>> resolutionAtoms = [];
    private readonly List<string> planned = [];
    private readonly List<(string Blocker, string Blocked)> blocks = [];
    private readonly HashSet<string> conflictSlots = new(StringComparer.Ordinal);
    private int excerptFollow;
    private Block block;
    private string? current;
    private int binaries;
    private string? buildLog;
    private bool awaitingLogPath;
    private int? signal;
    private bool sawPlan;
    private bool blockerError;
    private readonly HashSet<string> signingFailed = new(StringComparer.Ordinal);
    private bool fetchVerifyFailed;
    private bool nothingToDo;

    public EmergeClassifier(ClassifierOptions? options = null)
    {
        this.options = options ?? new ClassifierOptions();
        Lines = new ConsoleLines(Line);
    }

    private enum Block
    {
        None,
        Cycle,
        CycleFix,
        UseChanges,
        KeywordChanges,
        LicenseChanges,
        MaskChanges,
        Masked,
        UnmetRequirements,
        SlotConflict,
    }

    /// <summary>Feed raw console bytes here (colours, CRs and all).</summary>
    public ConsoleLines Lines { get; }

    /// <summary>Live progress, from the merge lines as they come.</summary>
    public EmergeProgress Progress { get; private set; } = new(null, null, 0, 0);

    /// <summary>Raised when <see cref="Progress"/> changes.</summary>
    public event Action<EmergeProgress>? ProgressChanged;

    /// <summary>Sets <see cref="Progress"/> when something in it changed; most merge lines change nothing, and make nothing.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Report(string? package, string? phase, int done, int total)
    {
        var now = Progress;
        if (now.Package != package || now.Phase != phase || now.Done != done || now.Total != total)
        {
            Progress = new EmergeProgress(package, phase, done, total);
            ProgressChanged?.Invoke(Progress);
        }
    }

    public static async Task<EmergeOutcome> ClassifyAsync(Stream output, ClassifierOptions? options = null, int? exitCode = null, CancellationToken ct = default)
    {
        var classifier = new EmergeClassifier(options);
        var buffer = new byte[256 * 1024];
        int read;
        // A file's reads do not wait on anything: reading it in place saves a hop to the thread pool and back for each
        // chunk, whose idle workers spun for a third of the CPU time of classifying a 200 MB file (bench/PortageBench).
        while ((read = output is FileStream { IsAsync: false } file ? file.Read(buffer) : await output.ReadAsync(buffer, ct)) > 0)
        {
            ct.ThrowIfCancellationRequested();
            classifier.Lines.Feed(buffer.AsSpan(0, read));
        }

        return classifier.Complete(exitCode);
    }

    public static EmergeOutcome Classify(string output, ClassifierOptions? options = null, int? exitCode = null)
    {
        var classifier = new EmergeClassifier(options);
        classifier.Lines.Feed(System.Text.Encoding.UTF8.GetBytes(output));
        return classifier.Complete(exitCode);
    }

    /// <summary>One plain line of output (already free of colours and line-end characters), as UTF-8.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Line(ReadOnlySpan<byte> line)
    {
        // Emerge run by a CI system or docker build, whose log prefixes every line: the emerge output is what follows.
        if (line.Length > 0 && (line[0] == (byte)'#' || char.IsAsciiDigit((char)line[0])))
        {
            line = line[CiPrefixLength(line)..];
        }

        if (line.StartsWith(">>> Jobs:"u8))
        {
            return;
        }

        if (excerptFollow > 0 && line.Length > 0)
        {
            AddExcerpt(Decode(line));
            excerptFollow--;
        }

        if (block != Block.None && ContinueBlock(Decode(line)))
        {
            Remember(line);
            return;
        }

        Dispatch(line);
        Remember(line);
    }

    private static string Decode(ReadOnlySpan<byte> line) => Encoding.UTF8.GetString(line);

    private static string Clip(string line) => line.Length > ExcerptLineChars ? line[..ExcerptLineChars] : line;

    /// <summary>
    /// The length of BuildKit's "#13 4.504 " (step and seconds) or GitHub Actions' "2023-11-12T10:00:00.1234567Z " at the
    /// start of a line; 0 when there is none.
    /// </summary>
    private static int CiPrefixLength(ReadOnlySpan<byte> line)
    {
        int at;
        if (line[0] == (byte)'#')
        {
            at = Digits(line, 1);
            if (at == 1 || at >= line.Length || line[at] != (byte)' ')
            {
                return 0;
            }

            var seconds = Digits(line, at + 1);
            if (seconds == at + 1 || seconds >= line.Length || line[seconds] != (byte)'.')
            {
                return 0;
            }

            at = Digits(line, seconds + 1);
            return at == seconds + 1 ? 0 : Space(line, at);
        }

        // yyyy-mm-ddThh:mm:ss, then an optional fraction and Z.
        ReadOnlySpan<byte> shape = "0000-00-00T00:00:00"u8;
        if (line.Length < shape.Length + 1)
        {
            return 0;
        }

        for (var i = 0; i < shape.Length; i++)
        {
            if (shape[i] == (byte)'0' ? !char.IsAsciiDigit((char)line[i]) : line[i] != shape[i])
            {
                return 0;
            }
        }

        at = shape.Length;
        if (line[at] == (byte)'.')
        {
            var fraction = Digits(line, at + 1);
            if (fraction == at + 1)
            {
                return 0;
            }

            at = fraction;
        }

        return at < line.Length && line[at] == (byte)'Z' ? Space(line, at + 1) : 0;

        static int Digits(ReadOnlySpan<byte> line, int from)
        {
            while (from < line.Length && char.IsAsciiDigit((char)line[from]))
            {
                from++;
            }

            return from;
        }

        static int Space(ReadOnlySpan<byte> line, int at) => at < line.Length && line[at] == (byte)' ' ? at + 1 : at;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Remember(ReadOnlySpan<byte> line)
    {
        if (line.IsEmpty)
        {
            return;
        }

        var kept = line[..Math.Min(line.Length, RememberedBytes)];
        kept.CopyTo(recent.AsSpan(recentNext * RememberedBytes));
        recentLengths[recentNext] = kept.Length;
        recentNext = (recentNext + 1) % RecentLines;
        recentCount = Math.Min(recentCount + 1, RecentLines);
    }

    /// <summary>The last lines seen, oldest first.</summary>
    private List<string> Recent()
    {
        var lines = new List<string>(recentCount);
        for (var i = 0; i < recentCount; i++)
        {
            var slot = (recentNext - recentCount + i + RecentLines) % RecentLines;
            lines.Add(Clip(Decode(recent.AsSpan(slot * RememberedBytes, recentLengths[slot]))));
        }

        return lines;
    }

    /// <summary>Marks the lines before and after <paramref name="line"/> as the excerpt, once.</summary>
    private void Trigger(string line, int follow = 40)
    {
        if (excerpt.Count > 0)
        {
            return;
        }

        foreach (var earlier in Recent())
        {
            AddExcerpt(earlier);
        }

        AddExcerpt(line);
        excerptFollow = follow;
    }

    private void AddExcerpt(string line)
    {
        if (excerpt.Count < options.ExcerptLines)
        {
            excerpt.Add(Clip(line));
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Dispatch(ReadOnlySpan<byte> line)
    {
        if (NamesGnuPg(line) && SigningProblem(Decode(line)))
        {
            return;
        }

        if (line.StartsWith(">>> "u8))
        {
            MergeProgress(line);
            return;
        }

        if (awaitingLogPath && line.StartsWith(">>>"u8))
        {
            return;
        }

        if (line.StartsWith(" * "u8) || line.StartsWith("* "u8))
        {
            Elog(line);
            return;
        }

        if (line.StartsWith("["u8))
        {
            PlanLine(line);
            return;
        }

        if (line.StartsWith("!!! "u8))
        {
            Bang(Decode(line));
            return;
        }

        if (line.StartsWith("emerge: "u8))
        {
            EmergeMessage(Decode(line));
            return;
        }

        if (line.StartsWith("The following "u8))
        {
            TheFollowing(Decode(line));
            return;
        }

        if (line.StartsWith("Exiting on signal"u8) || line.StartsWith("Exiting due to signal"u8))
        {
            var text = Decode(line);
            signal = int.TryParse(Digits().Match(text).Value, out var number) ? number : 15;
            Trigger(text, follow: 5);
            return;
        }

        if (line.StartsWith("Total: "u8))
        {
            sawPlan = true;
        }

        if (line.StartsWith("Conflict: "u8) && Decode(line) is var conflictLine
            && UnsatisfiedBlocks().Match(conflictLine) is { Success: true } conflict && conflict.Groups[1].Value != "0")
        {
            // The plan's own summary of blockers it could not resolve: whatever the list above it, nothing can be merged.
            blockerError = true;
            Trigger(conflictLine);
        }

        if (line.StartsWith("It might be possible to break this cycle"u8))
        {
            // Some reports give the way out before the cycle itself.
            Resolution(OutcomeClass.CircularDependency, null);
            block = Block.CycleFix;
            Trigger(Decode(line));
            return;
        }

        if (line.StartsWith("Nothing to merge; quitting."u8))
        {
            nothingToDo = true;
        }

        if (line.StartsWith("*** Resuming merge"u8))
        {
            // --keep-going starts a new, shorter list: its counts start again.
            Report(Progress.Package, Progress.Phase, 0, Progress.Total);
        }
    }

    /// <summary>Whether the line says "GPG" or "GnuPG": one search for their first letter, rare in build output.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static bool NamesGnuPg(ReadOnlySpan<byte> line)
    {
        for (var at = line.IndexOf((byte)'G'); at >= 0; at = line.IndexOf((byte)'G'))
        {
            line = line[at..];
            if (line.StartsWith("GPG"u8) || line.StartsWith("GnuPG"u8))
            {
                return true;
            }

            line = line[1..];
        }

        return false;
    }

    private void TheFollowing(string line)
    {
        if (ChangesHeader().Match(line) is { Success: true } header)
        {
            block = header.Groups[1].Value switch
            {
                "USE" => Block.UseChanges,
                "keyword" => Block.KeywordChanges,
                "license" => Block.LicenseChanges,
                _ => Block.MaskChanges,
            };
            Trigger(line);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void MergeProgress(ReadOnlySpan<byte> line)
    {
        if (line.StartsWith(">>> No outdated packages were found"u8))
        {
            nothingToDo = true; // an update found everything current: nothing to build is a success
            return;
        }

        if (line.StartsWith(">>> Emerging "u8) && line[">>> Emerging "u8.Length..] is var emerging
            && emerging.StartsWith("binary "u8) is var binary && TryCounted(binary ? emerging["binary "u8.Length..] : emerging, out var total, out var atom))
        {
            if (!started.ContainsKey(atom) && startOrder.Count < MaxListed)
            {
                startOrder.Add(atom);
            }

            started[atom] = (binary, null);
            current = atom;
            Report(atom, binary ? "binary" : null, Progress.Done, total);
            return;
        }

        if (line.StartsWith(">>> Completed "u8) && TryCounted(line[">>> Completed "u8.Length..], out total, out atom))
        {
            if (completedSet.Add(atom))
            {
                if (completed.Count < MaxListed)
                {
                    completed.Add(atom);
                }

                if (started.TryGetValue(atom, out var state) && state.Binary)
                {
                    binaries++;
                }
            }

            // With --jobs, "x of y" is the package's place in the list, not how many are done: count completions.
            Report(current == atom ? null : Progress.Package, current == atom ? null : Progress.Phase, Progress.Done + 1, total);
            return;
        }

        if (line.StartsWith(">>> Failed to emerge "u8) && Decode(line) is var failedLine && FailedToEmerge().Match(failedLine) is { Success: true } failed)
        {
            AddFailure(WithoutRepository(failed.Groups["atom"].Value), null);
            awaitingLogPath = failed.Groups["log"].Success;
            Trigger(failedLine);
            return;
        }

        if (awaitingLogPath && QuotedPath().Match(Decode(line)) is { Success: true } path)
        {
            buildLog ??= path.Groups[1].Value;
            awaitingLogPath = false;
            return;
        }

        if (current is not null && PhaseOf(line) is { } phase)
        {
            started[current] = (started[current].Binary, phase);
            Report(current, phase, Progress.Done, Progress.Total);
        }
    }

    /// <summary>
    /// Reads "(N of TOTAL) ATOM", as emerge writes it after "Emerging" and "Completed", giving the atom without its
    /// repository; false for anything else.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private bool TryCounted(ReadOnlySpan<byte> text, out int total, out string atom)
    {
        total = 0;
        atom = "";
        if (!text.StartsWith("("u8))
        {
            return false;
        }

        var place = text[1..];
        var digits = place.IndexOfAnyExceptInRange((byte)'0', (byte)'9');
        if (digits <= 0 || !place[digits..].StartsWith(" of "u8))
        {
            return false;
        }

        var of = place[(digits + 4)..];
        digits = of.IndexOfAnyExceptInRange((byte)'0', (byte)'9');
        if (digits <= 0 || !of[digits..].StartsWith(") "u8)
            || !int.TryParse(of[..digits], NumberStyles.None, CultureInfo.InvariantCulture, out total))
        {
            return false;
        }

        // The atom runs to the first white space, Unicode's included.
        var rest = of[(digits + 2)..];
        var end = rest.IndexOfAny(AsciiWhiteSpace);
        var bytes = end < 0 ? rest : rest[..end];
        Span<char> word = stackalloc char[AtomChars];
        if (bytes.Length > word.Length)
        {
            return false; // no package atom is that long
        }

        word = word[..Encoding.UTF8.GetChars(bytes, word)];
        var stop = 0;
        while (stop < word.Length && !char.IsWhiteSpace(word[stop]))
        {
            stop++;
        }

        word = word[..stop];
        var repository = word.IndexOf("::", StringComparison.Ordinal);
        atom = AtomName(repository >= 0 ? word[..repository] : word);
        return stop > 0;
    }

    /// <summary>
    /// The string for an atom named on a merge line, made once per atom (a package is named when it starts and when it
    /// completes, and logs of --keep-going and resumed merges name it again).
    /// </summary>
    private string AtomName(ReadOnlySpan<char> atom)
    {
        if (atomNames.GetAlternateLookup<ReadOnlySpan<char>>().TryGetValue(atom, out var known))
        {
            return known;
        }

        var made = new string(atom);
        if (atomNames.Count < MaxAtomNames)
        {
            atomNames.Add(made);
        }

        return made;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static string? PhaseOf(ReadOnlySpan<byte> line) =>
        line.StartsWith(">>> Unpacking source"u8) ? "unpack"
        : line.StartsWith(">>> Preparing source"u8) ? "prepare"
        : line.StartsWith(">>> Configuring source"u8) ? "configure"
        : line.StartsWith(">>> Compiling source"u8) ? "compile"
        : line.StartsWith(">>> Test phase"u8) || line.StartsWith(">>> Testing"u8) ? "test"
        : line.StartsWith(">>> Install "u8) ? "install"
        : line.StartsWith(">>> Merging "u8) ? "preinst"
        : null;

    /// <summary>A line of Portage's messages (" * "): failures, where the build log is, the resolver's errors.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Elog(ReadOnlySpan<byte> line)
    {
        var star = line[0] == (byte)' ' ? line[1..] : line;
        if (star.StartsWith("* ERROR: "u8) && Decode(line) is var errorLine && BuildError().Match(errorLine) is { Success: true } error)
        {
            var phase = error.Groups["phase"].Value;
            AddFailure(WithoutRepository(error.Groups["atom"].Value), Phases.Contains(phase) ? phase : null);
            Trigger(errorLine);
            return;
        }

        if (line.IndexOf("The complete build log is located at '"u8) >= 0)
        {
            // The first location named is the build log's: later ones are not even read.
            if (buildLog is not null)
            {
                return;
            }

            if (BuildLogLocation().Match(Decode(line)) is { Success: true } log)
            {
                buildLog = log.Groups[1].Value;
                return;
            }
        }

        if (line.IndexOf("Error: circular dependencies"u8) >= 0)
        {
            Resolution(OutcomeClass.CircularDependency, null);
            block = Block.Cycle;
            Trigger(Decode(line));
            return;
        }

        if (line.IndexOf("Error: The above package list contains packages which cannot be"u8) >= 0)
        {
            blockerError = true;
            Trigger(Decode(line));
            return;
        }

        if (line.IndexOf("Fetch failed for '"u8) >= 0 && Decode(line) is var fetchLine && FetchFailedFor().Match(fetchLine) is { Success: true } fetch)
        {
            MarkFetchFailure(WithoutRepository(fetch.Groups[1].Value));
            Trigger(fetchLine);
        }
    }

    private void Bang(string line)
    {
        if (FetchVerifyFailed().Match(line) is { Success: true })
        {
            // The download does not match the Manifest. Portage fetches it again from the next mirror, so it is a failure only
            // if the run does not succeed after all (and then a fetch failure, whether or not "Couldn't download" follows).
            fetchVerifyFailed = true;
            Trigger(line);
            return;
        }

        if (line.StartsWith("!!! Couldn't download", StringComparison.Ordinal) || line.StartsWith("!!! Fetch failed for", StringComparison.Ordinal)
            || line.StartsWith("!!! Couldn't fetch", StringComparison.Ordinal))
        {
            if (current is not null)
            {
                MarkFetchFailure(current);
            }

            Trigger(line);
            return;
        }

        if (line.StartsWith("!!! All ebuilds that could satisfy", StringComparison.Ordinal))
        {
            block = Block.Masked;
            Trigger(line);
            return;
        }

        if (line.Contains("has unmet requirements.", StringComparison.Ordinal))
        {
            Resolution(OutcomeClass.UseChangeRequired, null);
            block = Block.UnmetRequirements;
            Trigger(line);
            return;
        }

        if (line.StartsWith("!!! Multiple package instances within a single package slot", StringComparison.Ordinal))
        {
            Resolution(OutcomeClass.SlotConflict, null);
            block = Block.SlotConflict;
            Trigger(line);
            return;
        }

        if (InvalidAtom().Match(line) is { Success: true } invalid)
        {
            Resolution(OutcomeClass.UnknownAtom, invalid.Groups[1].Value);
            Trigger(line);
        }
    }

    /// <summary>
    /// Portage's gpg failures: a package it could not sign ("GPG signing failed"), or could not verify after making or
    /// re-using it ("Invalid binary package: 'PATH', GnuPG verification failed"), often after gpg's own complaint about
    /// the keyring it was given.
    /// </summary>
    private bool SigningProblem(string line)
    {
        if (InvalidBinaryPackage().Match(line) is { Success: true } invalid)
        {
            signingFailed.Add(Gpkg.CpvOfPath(invalid.Groups["path"].Value) ?? current ?? invalid.Groups["path"].Value);
            Trigger(line);
            return true;
        }

        if (line.Contains("GPG signing failed", StringComparison.Ordinal) || line.Contains("GPG verify failed", StringComparison.Ordinal))
        {
            signingFailed.Add(current ?? "");
            Trigger(line);
            return true;
        }

        return false;
    }

    private void EmergeMessage(string line)
    {
        if (NoEbuilds().Match(line) is { Success: true } none)
        {
            Resolution(none.Groups["use"].Value.Contains("USE", StringComparison.Ordinal) ? OutcomeClass.UseChangeRequired : OutcomeClass.UnknownAtom, none.Groups["atom"].Value);
            Trigger(line);
            return;
        }

        if (line.StartsWith("emerge: Maybe you meant", StringComparison.Ordinal))
        {
            AddSuggested(line);
        }
    }

    /// <summary>A line of the merge list: "[ebuild ...] atom", "[binary ...] atom" or "[blocks B ...] ..."; build output
    /// such as CMake's "[ 50%]" is none of them.</summary>
    private void PlanLine(ReadOnlySpan<byte> line)
    {
        // Past the listed bound, merge-list entries change nothing.
        var entry = (line.StartsWith("[ebuild"u8) || line.StartsWith("[binary"u8)) && planned.Count < MaxListed;
        if (!entry && !line.StartsWith("[blocks "u8))
        {
            return;
        }

        var text = Decode(line);
        if (BlockerLine().Match(text) is { Success: true } blocker)
        {
            if (blocks.Count < MaxListed)
            {
                // "A is blocking X" or, in the list form, "A is blocking X, Y".
            foreach (var blocked in blocker.Groups["blocker"].Value.Split(", ", StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                blocks.Add((WithoutRepository(blocked), blocker.Groups["blocked"].Value));
            }
            }

            return;
        }

        if (entry && PlanEntry().Match(text) is { Success: true } planEntry)
        {
            sawPlan = true;
            planned.Add(WithoutRepository(planEntry.Groups["atom"].Value));
        }
    }

    /// <summary>Handles a line inside a multi-line block; false when the block ended and the line needs normal handling.</summary>
    private bool ContinueBlock(string line)
    {
        switch (block)
        {
            case Block.Cycle:
                if (line.StartsWith("It might be possible to break this cycle", StringComparison.Ordinal))
                {
                    block = Block.CycleFix;
                    return true;
                }

                if (CycleMember().Match(line) is { Success: true } member)
                {
                    AddResolutionAtom(OutcomeClass.CircularDependency, member.Groups[1].Value);
                    return true;
                }

                if (line.StartsWith(">>>", StringComparison.Ordinal) || line.StartsWith("!!!", StringComparison.Ordinal))
                {
                    block = Block.None;
                    return false;
                }

                return true;
            case Block.CycleFix:
                if (line.StartsWith("- ", StringComparison.Ordinal))
                {
                    AddSuggested(line);
                    if (CycleChange().Match(line) is { Success: true } change)
                    {
                        AddFix(new ConfigurationFix("package.use", $"={change.Groups["atom"].Value} {change.Groups["use"].Value.Trim()}", Temporary: true));
                    }

                    return true;
                }

                if (line.Length == 0 || line.StartsWith("by applying", StringComparison.Ordinal))
                {
                    return true;
                }

                block = Block.None;
                return false;
            case Block.UseChanges or Block.KeywordChanges or Block.LicenseChanges or Block.MaskChanges:
                return ConfigChange(line);
            case Block.Masked:
                if (MaskedEntry().Match(line) is { Success: true } masked)
                {
                    Masked(WithoutRepository(masked.Groups["atom"].Value), masked.Groups["reasons"].Value);
                    return true;
                }

                if (line.StartsWith("For more information", StringComparison.Ordinal) || line.StartsWith(">>>", StringComparison.Ordinal))
                {
                    block = Block.None;
                }

                return true;
            case Block.UnmetRequirements:
                if (UnmetEntry().Match(line) is { Success: true } unmet)
                {
                    AddResolutionAtom(OutcomeClass.UseChangeRequired, WithoutRepository(unmet.Groups[1].Value));
                    block = Block.None;
                }

                return true;
            case Block.SlotConflict:
                if (SlotKey().Match(line) is { Success: true } key)
                {
                    conflictSlots.Add(key.Groups[1].Value);
                    return true;
                }

                // An instance of a conflicting slot: "  (cat/pkg-ver:slot/sub::repo, ebuild scheduled for merge)". Pasted
                // logs lose the indentation, so the package must belong to a slot named above instead.
                if (SlotInstance().Match(line) is { Success: true } instance
                    && (conflictSlots.Count == 0 ? line.StartsWith("  (", StringComparison.Ordinal) : conflictSlots.Contains(KeyOf(instance.Groups[1].Value))))
                {
                    AddResolutionAtom(OutcomeClass.SlotConflict, instance.Groups[1].Value);
                    return true;
                }

                // Portage before 2.2 named an instance as a tuple: "  ('installed', '/', 'cat/pkg-ver', 'nomerge') pulled in by".
                if (TupleInstance().Match(line) is { Success: true } tuple
                    && (conflictSlots.Count == 0 || conflictSlots.Contains(KeyOf(tuple.Groups["cpv"].Value))))
                {
                    AddResolutionAtom(OutcomeClass.SlotConflict, tuple.Groups["cpv"].Value);
                    return true;
                }

                if (line.StartsWith("It may be possible", StringComparison.Ordinal) || line.StartsWith("NOTE:", StringComparison.Ordinal)
                    || line.StartsWith(">>>", StringComparison.Ordinal))
                {
                    block = Block.None;
                }

                return true;
            default:
                return false;
        }
    }

    private bool ConfigChange(string line)
    {
        if (line.TrimStart().StartsWith("(see", StringComparison.Ordinal) || line.StartsWith('#'))
        {
            return true;
        }

        if (line.Trim().Length == 0 || line.StartsWith("Use --autounmask", StringComparison.Ordinal) || line.StartsWith("Autounmask", StringComparison.Ordinal)
            || line.StartsWith("NOTE:", StringComparison.Ordinal))
        {
            block = Block.None;
            return line.Trim().Length == 0;
        }

        var (kind, file) = block switch
        {
            Block.UseChanges => (OutcomeClass.UseChangeRequired, "package.use"),
            Block.KeywordChanges => (OutcomeClass.KeywordChangeRequired, "package.accept_keywords"),
            Block.LicenseChanges => (OutcomeClass.LicenseRequired, "package.license"),
            _ => (OutcomeClass.MaskedPackage, "package.unmask"),
        };
        var parts = line.Trim().Split(' ', 2, StringSplitOptions.RemoveEmptyEntries);
        if (!Atom.TryParse(parts[0], out var atom))
        {
            // Prose inside the block (pastes often lose the blank line that ends it).
            block = Block.None;
            return false;
        }

        AddSuggested(line);
        AddResolutionAtom(kind, atom.Version is null ? atom.Key : $"{atom.Key}-{atom.Version}");
        var rest = parts.Length > 1 ? " " + parts[1] : "";
        AddFix(kind is OutcomeClass.KeywordChangeRequired or OutcomeClass.LicenseRequired
            ? new ConfigurationFix(file, Scoped(atom) + rest)
            : new ConfigurationFix(file, line.Trim()));
        return true;
    }

    private void Masked(string cpv, string reasons)
    {
        var atom = Atom.TryParse("=" + cpv, out var parsed) ? parsed : null;
        var scoped = atom is null ? cpv : Scoped(atom);
        if (reasons.Contains("EAPI", StringComparison.Ordinal) || reasons.Contains("corruption", StringComparison.Ordinal))
        {
            // Not a choice a configuration line makes: an EAPI this Portage cannot read (upgrade sys-apps/portage
            // first), or an ebuild or its metadata that is damaged (sync the repository again).
            AddResolutionAtom(OutcomeClass.MaskedPackage, cpv);
            AddSuggested(reasons.Contains("EAPI", StringComparison.Ordinal)
                ? $"{cpv} needs a newer Portage ({reasons}): update sys-apps/portage first"
                : $"{cpv} is masked by corruption: its ebuild or metadata is damaged; sync the repository again");
        }
        else if (reasons.Contains("package.mask", StringComparison.Ordinal) || reasons.Contains("profile", StringComparison.Ordinal))
        {
            AddResolutionAtom(OutcomeClass.MaskedPackage, cpv);
            AddFix(new ConfigurationFix("package.unmask", "=" + cpv));
        }
        else if (LicenseNames(reasons) is { Count: > 0 } licenses)
        {
            AddResolutionAtom(OutcomeClass.LicenseRequired, cpv);
            AddFix(new ConfigurationFix("package.license", $"{scoped} {string.Join(' ', licenses)}"));
        }
        else if (KeywordReason().Match(reasons) is { Success: true } keyword)
        {
            AddResolutionAtom(OutcomeClass.KeywordChangeRequired, cpv);
            var accepted = keyword.Groups[1].Value == "missing" ? "**" : keyword.Groups[1].Value;
            AddFix(new ConfigurationFix("package.accept_keywords", $"{scoped} {accepted}"));
        }
        else
        {
            AddResolutionAtom(OutcomeClass.MaskedPackage, cpv);
        }
    }

    /// <summary>
    /// The licenses of a mask reason such as "XMAME license(s)", "PUEL license(s), missing keyword" or the any-of form
    /// "|| ( Oracle-BCLA-JavaSE Oracle-BCLA ) license(s)"; empty when no license masks it.
    /// </summary>
    private static List<string> LicenseNames(string reasons)
    {
        var names = new List<string>();
        foreach (var reason in reasons.Split(", ", StringSplitOptions.TrimEntries))
        {
            var at = reason.IndexOf(" license", StringComparison.Ordinal);
            if (at <= 0)
            {
                continue;
            }

            names.AddRange(reason[..at].Split(' ', StringSplitOptions.RemoveEmptyEntries).Where(n => n is not ("||" or "(" or ")") && !names.Contains(n)));
        }

        return names;
    }

    private string Scoped(Atom atom)
    {
        var cpv = atom.Version is null ? null : $"{atom.Key}-{atom.Version}";
        var slot = options.KeywordScope == AtomScope.Slot && cpv is not null ? options.SlotOf?.Invoke(cpv) : null;
        return atom.Scoped(options.KeywordScope, slot);
    }

    private void Resolution(OutcomeClass kind, string? atom)
    {
        resolutionAtoms.TryAdd(kind, []);
        if (atom is not null)
        {
            AddResolutionAtom(kind, atom);
        }
    }

    private void AddResolutionAtom(OutcomeClass kind, string atom)
    {
        var list = resolutionAtoms.TryGetValue(kind, out var existing) ? existing : resolutionAtoms[kind] = [];
        if (!list.Contains(atom) && list.Count < MaxListed)
        {
            list.Add(atom);
        }
    }

    private void AddFailure(string atom, string? phase)
    {
        var index = 0;
        while (index < failures.Count && failures[index].Atom != atom)
        {
            index++;
        }

        if (index == failures.Count)
        {
            if (failures.Count < MaxListed)
            {
                failures.Add((atom, phase));
            }
        }
        else if (failures[index].Phase is null && phase is not null)
        {
            failures[index] = (atom, phase);
        }
    }

    private void MarkFetchFailure(string atom)
    {
        fetchFailed.Add(atom);
        AddFailure(atom, null);
    }

    private void AddSuggested(string line)
    {
        if (!suggested.Contains(line) && suggested.Count < 64)
        {
            suggested.Add(line);
        }
    }

    private void AddFix(ConfigurationFix fix)
    {
        if (!fixes.Contains(fix) && fixes.Count < 64)
        {
            fixes.Add(fix);
        }
    }

    /// <summary>The outcome; <paramref name="exitCode"/> is emerge's exit status when the caller knows it.</summary>
    public EmergeOutcome Complete(int? exitCode = null)
    {
        Lines.Finish();
        var (kind, atoms, phase) = Decide(exitCode);
        var lines = excerpt.Count > 0 ? excerpt : Recent();
        return new EmergeOutcome(kind, atoms, phase, completed.Count, binaries, buildLog, suggested.ToList(), fixes.ToList(), lines.ToList())
        {
            Merged = completed.ToList(),
        };
    }

    private (OutcomeClass Kind, IReadOnlyList<string> Atoms, string? Phase) Decide(int? exitCode)
    {
        var inFlight = startOrder.Where(a => !completedSet.Contains(a) && failures.All(f => f.Atom != a)).ToList();
        var killed = signal is not null || exitCode is 130 or 137 or 143;
        if (killed && failures.Count == 0)
        {
            var atom = inFlight.LastOrDefault();
            return (OutcomeClass.Interrupted, atom is null ? [] : [atom], atom is null ? null : started[atom].Phase);
        }

        if (signingFailed.Count > 0)
        {
            // The package was built; gpg refused it. Such a failure names no phase, and retrying as is cannot help.
            return (OutcomeClass.SigningFailure, signingFailed.Where(a => a.Length > 0).ToList(), null);
        }

        if (failures.Count > 0)
        {
            var allFetch = failures.All(f => fetchFailed.Contains(f.Atom));
            var phase = allFetch ? null : failures.FirstOrDefault(f => f.Phase is not null).Phase;
            return (allFetch ? OutcomeClass.FetchFailure : OutcomeClass.BuildFailure, failures.Select(f => f.Atom).ToList(), phase);
        }

        if (fetchVerifyFailed && !killed && exitCode is not 0)
        {
            // The output stopped at the failed verification (a refetch that never came back): nothing names the package
            // unless a merge was under way.
            return (OutcomeClass.FetchFailure, inFlight.TakeLast(1).ToList(), null);
        }

        if (blockerError || (blocks.Count > 0 && resolutionAtoms.Count == 0 && exitCode is not (null or 0)))
        {
            var atoms = blocks.SelectMany(b => new[] { b.Blocker, b.Blocked }).Distinct().ToList();
            return (OutcomeClass.Blocker, atoms, null);
        }

        foreach (var kind in new[]
                 {
                     OutcomeClass.CircularDependency, OutcomeClass.SlotConflict, OutcomeClass.UnknownAtom, OutcomeClass.MaskedPackage,
                     OutcomeClass.LicenseRequired, OutcomeClass.KeywordChangeRequired, OutcomeClass.UseChangeRequired,
                 })
        {
            if (resolutionAtoms.TryGetValue(kind, out var atoms))
            {
                return (kind, atoms, null);
            }
        }

        if (killed)
        {
            return (OutcomeClass.Interrupted, inFlight.TakeLast(1).ToList(), null);
        }

        if (exitCode is not (null or 0))
        {
            return (OutcomeClass.Unknown, inFlight, null);
        }

        if (completed.Count > 0 || sawPlan || nothingToDo || exitCode == 0)
        {
            return (OutcomeClass.Success, completed.Count > 0 ? completed : planned, null);
        }

        return (OutcomeClass.Unknown, [], null);
    }

    /// <summary>category/name of "category/name-version".</summary>
    private static string KeyOf(string cpv) => Atom.SplitVersion(cpv) is { } split ? split.Name : cpv;

    private static string WithoutRepository(string atom)
    {
        var at = atom.IndexOf("::", StringComparison.Ordinal);
        return at >= 0 ? atom[..at] : atom;
    }

    [GeneratedRegex("^>>> Failed to emerge (?<atom>[^\\s,]+)(?<log>, Log file:)?")]
    private static partial Regex FailedToEmerge();

    [GeneratedRegex("^>>>\\s+'([^']+)'\\s*$")]
    private static partial Regex QuotedPath();

    [GeneratedRegex("^\\s?\\* ERROR: (?<atom>\\S+) failed \\((?<phase>\\w+) phase\\)")]
    private static partial Regex BuildError();

    [GeneratedRegex("The complete build log is located at '([^']+)'")]
    private static partial Regex BuildLogLocation();

    [GeneratedRegex("Fetch failed for '([^']+)'")]
    private static partial Regex FetchFailedFor();

    [GeneratedRegex("^The following (USE|keyword|license|mask) changes are necessary to proceed")]
    private static partial Regex ChangesHeader();

    [GeneratedRegex("^\\s*\\(([^:\\s,]+)[:,]")]
    private static partial Regex CycleMember();

    [GeneratedRegex("^- (?<atom>\\S+) \\(Change USE: (?<use>[^)]+)\\)")]
    private static partial Regex CycleChange();

    [GeneratedRegex("^- (?<atom>\\S+) \\(masked by: (?<reasons>.*)\\)\\s*$")]
    private static partial Regex MaskedEntry();

    [GeneratedRegex("(~?[A-Za-z0-9_*-]+|missing) keyword")]
    private static partial Regex KeywordReason();

    [GeneratedRegex("^- (\\S+) USE=")]
    private static partial Regex UnmetEntry();

    [GeneratedRegex("^\\s{0,2}\\(([^:\\s,]+)[:,]")]
    private static partial Regex SlotInstance();

    [GeneratedRegex("^([A-Za-z0-9_][A-Za-z0-9+_.-]*/[A-Za-z0-9_][A-Za-z0-9+_-]*):\\S+$")]
    private static partial Regex SlotKey();

    [GeneratedRegex("^\\[blocks [Bb][^\\]]*\\] (?<blocked>\\S+) \\(\"[^\"]*\" is (?:hard |soft )?blocking (?<blocker>[^)]+)\\)")]
    private static partial Regex BlockerLine();

    [GeneratedRegex("^\\[(?:ebuild|binary)[^\\]]*\\] (?<atom>\\S+)")]
    private static partial Regex PlanEntry();

    [GeneratedRegex("^emerge: there are no (?<use>ebuilds built with USE flags|binary packages|ebuilds) to satisfy \"(?<atom>[^\"]+)\"")]
    private static partial Regex NoEbuilds();

    [GeneratedRegex("^!!! '([^']+)' is not a valid package atom")]
    private static partial Regex InvalidAtom();

    [GeneratedRegex("^!!! Invalid binary package: '(?<path>[^']+)'.*(GnuPG|GPG|signature)", RegexOptions.IgnoreCase)]
    private static partial Regex InvalidBinaryPackage();

    [GeneratedRegex("^\\s{0,2}\\('(?:ebuild|installed|binary)', '[^']*', '(?<cpv>[^']+)', '[a-z]+'\\) pulled in by")]
    private static partial Regex TupleInstance();

    [GeneratedRegex("\\(([0-9]+) unsatisfied\\)")]
    private static partial Regex UnsatisfiedBlocks();

    [GeneratedRegex("^!!! Fetched file: (?<file>\\S+) VERIFY FAILED!")]
    private static partial Regex FetchVerifyFailed();

    [GeneratedRegex("\\d+")]
    private static partial Regex Digits();
}
