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
/// </summary>
public sealed partial class EmergeClassifier
{
    private const int RecentLines = 20;
    private const int MaxListed = 512;
    private static readonly string[] Phases = ["setup", "unpack", "prepare", "configure", "compile", "test", "install", "preinst", "postinst"];

    private readonly ClassifierOptions options;
    private readonly Queue<string> recent = new();
    private readonly List<string> excerpt = [];
    private readonly Dictionary<string, (bool Binary, string? Phase)> started = new(StringComparer.Ordinal);
    private readonly List<string> startOrder = [];
    private readonly List<string> completed = [];
    private readonly HashSet<string> completedSet = new(StringComparer.Ordinal);
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

    private void Report(EmergeProgress progress)
    {
        if (progress != Progress)
        {
            Progress = progress;
            ProgressChanged?.Invoke(progress);
        }
    }

    public static async Task<EmergeOutcome> ClassifyAsync(Stream output, ClassifierOptions? options = null, int? exitCode = null, CancellationToken ct = default)
    {
        var classifier = new EmergeClassifier(options);
        var buffer = new byte[64 * 1024];
        int read;
        while ((read = await output.ReadAsync(buffer, ct)) > 0)
        {
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

    /// <summary>One plain line of output (already free of colours and line-end characters).</summary>
    public void Line(string line)
    {
        // Emerge run by a CI system or docker build, whose log prefixes every line: the emerge output is what follows.
        if (line.Length > 0 && (line[0] == '#' || char.IsAsciiDigit(line[0])) && CiPrefix().Match(line) is { Success: true } prefix)
        {
            line = line[prefix.Length..];
        }

        if (line.StartsWith(">>> Jobs:", StringComparison.Ordinal))
        {
            return;
        }

        if (excerptFollow > 0 && line.Length > 0)
        {
            AddExcerpt(line);
            excerptFollow--;
        }

        if (block != Block.None && ContinueBlock(line))
        {
            Remember(line);
            return;
        }

        Dispatch(line);
        Remember(line);
    }

    private void Remember(string line)
    {
        if (line.Length == 0)
        {
            return;
        }

        recent.Enqueue(line.Length > 500 ? line[..500] : line);
        if (recent.Count > RecentLines)
        {
            recent.Dequeue();
        }
    }

    /// <summary>Marks the lines before and after <paramref name="line"/> as the excerpt, once.</summary>
    private void Trigger(string line, int follow = 40)
    {
        if (excerpt.Count > 0)
        {
            return;
        }

        foreach (var earlier in recent)
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
            excerpt.Add(line.Length > 500 ? line[..500] : line);
        }
    }

    private void Dispatch(string line)
    {
        if ((line.Contains("GPG", StringComparison.Ordinal) || line.Contains("GnuPG", StringComparison.Ordinal)) && SigningProblem(line))
        {
            return;
        }

        if (line.StartsWith(">>> ", StringComparison.Ordinal))
        {
            MergeProgress(line);
            return;
        }

        if (awaitingLogPath && line.StartsWith(">>>", StringComparison.Ordinal))
        {
            return;
        }

        if (line.StartsWith(" * ", StringComparison.Ordinal) || line.StartsWith("* ", StringComparison.Ordinal))
        {
            Elog(line);
            return;
        }

        if (line.StartsWith('['))
        {
            PlanLine(line);
            return;
        }

        if (line.StartsWith("!!! ", StringComparison.Ordinal))
        {
            Bang(line);
            return;
        }

        if (line.StartsWith("emerge: ", StringComparison.Ordinal))
        {
            EmergeMessage(line);
            return;
        }

        if (line.StartsWith("The following ", StringComparison.Ordinal) && ChangesHeader().Match(line) is { Success: true } header)
        {
            block = header.Groups[1].Value switch
            {
                "USE" => Block.UseChanges,
                "keyword" => Block.KeywordChanges,
                "license" => Block.LicenseChanges,
                _ => Block.MaskChanges,
            };
            Trigger(line);
            return;
        }

        if (line.StartsWith("Exiting on signal", StringComparison.Ordinal) || line.StartsWith("Exiting due to signal", StringComparison.Ordinal))
        {
            signal = int.TryParse(Digits().Match(line).Value, out var number) ? number : 15;
            Trigger(line, follow: 5);
            return;
        }

        if (line.StartsWith("Total: ", StringComparison.Ordinal))
        {
            sawPlan = true;
        }

        if (line.StartsWith("Conflict: ", StringComparison.Ordinal) && UnsatisfiedBlocks().Match(line) is { Success: true } conflict && conflict.Groups[1].Value != "0")
        {
            // The plan's own summary of blockers it could not resolve: whatever the list above it, nothing can be merged.
            blockerError = true;
            Trigger(line);
        }

        if (line.StartsWith("It might be possible to break this cycle", StringComparison.Ordinal))
        {
            // Some reports give the way out before the cycle itself.
            Resolution(OutcomeClass.CircularDependency, null);
            block = Block.CycleFix;
            Trigger(line);
            return;
        }

        if (line.StartsWith("Nothing to merge; quitting.", StringComparison.Ordinal))
        {
            nothingToDo = true;
        }

        if (line.StartsWith("*** Resuming merge", StringComparison.Ordinal))
        {
            // --keep-going starts a new, shorter list: its counts start again.
            Report(Progress with { Done = 0 });
        }
    }

    private void MergeProgress(string line)
    {
        if (line.StartsWith(">>> No outdated packages were found", StringComparison.Ordinal))
        {
            nothingToDo = true; // an update found everything current: nothing to build is a success
            return;
        }

        if (Emerging().Match(line) is { Success: true } emerging)
        {
            var atom = WithoutRepository(emerging.Groups["atom"].Value);
            var binary = emerging.Groups["binary"].Success;
            if (!started.ContainsKey(atom) && startOrder.Count < MaxListed)
            {
                startOrder.Add(atom);
            }

            started[atom] = (binary, null);
            current = atom;
            Report(Progress with { Package = atom, Phase = binary ? "binary" : null, Total = int.Parse(emerging.Groups["total"].Value, System.Globalization.CultureInfo.InvariantCulture) });
            return;
        }

        if (CompletedLine().Match(line) is { Success: true } done)
        {
            var atom = WithoutRepository(done.Groups["atom"].Value);
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

            Report(Progress with
            {
                // With --jobs, "x of y" is the package's place in the list, not how many are done: count completions.
                Done = Progress.Done + 1,
                Total = int.Parse(done.Groups["total"].Value, System.Globalization.CultureInfo.InvariantCulture),
                Package = current == atom ? null : Progress.Package,
                Phase = current == atom ? null : Progress.Phase,
            });
            return;
        }

        if (FailedToEmerge().Match(line) is { Success: true } failed)
        {
            AddFailure(WithoutRepository(failed.Groups["atom"].Value), null);
            awaitingLogPath = failed.Groups["log"].Success;
            Trigger(line);
            return;
        }

        if (awaitingLogPath && QuotedPath().Match(line) is { Success: true } path)
        {
            buildLog ??= path.Groups[1].Value;
            awaitingLogPath = false;
            return;
        }

        if (current is not null && PhaseOf(line) is { } phase)
        {
            started[current] = (started[current].Binary, phase);
            Report(Progress with { Package = current, Phase = phase });
        }
    }

    private static string? PhaseOf(string line) =>
        line.StartsWith(">>> Unpacking source", StringComparison.Ordinal) ? "unpack"
        : line.StartsWith(">>> Preparing source", StringComparison.Ordinal) ? "prepare"
        : line.StartsWith(">>> Configuring source", StringComparison.Ordinal) ? "configure"
        : line.StartsWith(">>> Compiling source", StringComparison.Ordinal) ? "compile"
        : line.StartsWith(">>> Test phase", StringComparison.Ordinal) || line.StartsWith(">>> Testing", StringComparison.Ordinal) ? "test"
        : line.StartsWith(">>> Install ", StringComparison.Ordinal) ? "install"
        : line.StartsWith(">>> Merging ", StringComparison.Ordinal) ? "preinst"
        : null;

    private void Elog(string line)
    {
        if (BuildError().Match(line) is { Success: true } error)
        {
            var phase = error.Groups["phase"].Value;
            AddFailure(WithoutRepository(error.Groups["atom"].Value), Phases.Contains(phase) ? phase : null);
            Trigger(line);
            return;
        }

        if (BuildLogLocation().Match(line) is { Success: true } log)
        {
            buildLog ??= log.Groups[1].Value;
            return;
        }

        if (line.Contains("Error: circular dependencies", StringComparison.Ordinal))
        {
            Resolution(OutcomeClass.CircularDependency, null);
            block = Block.Cycle;
            Trigger(line);
            return;
        }

        if (line.Contains("Error: The above package list contains packages which cannot be", StringComparison.Ordinal))
        {
            blockerError = true;
            Trigger(line);
            return;
        }

        if (FetchFailedFor().Match(line) is { Success: true } fetch)
        {
            MarkFetchFailure(WithoutRepository(fetch.Groups[1].Value));
            Trigger(line);
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

    private void PlanLine(string line)
    {
        if (BlockerLine().Match(line) is { Success: true } blocker)
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

        if (PlanEntry().Match(line) is { Success: true } entry && planned.Count < MaxListed)
        {
            sawPlan = true;
            planned.Add(WithoutRepository(entry.Groups["atom"].Value));
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
        var index = failures.FindIndex(f => f.Atom == atom);
        if (index < 0)
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
        var lines = excerpt.Count > 0 ? excerpt : recent.ToList();
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

    [GeneratedRegex("^>>> Emerging (?<binary>binary )?\\(\\d+ of (?<total>\\d+)\\) (?<atom>\\S+)")]
    private static partial Regex Emerging();

    [GeneratedRegex("^>>> Completed \\(\\d+ of (?<total>\\d+)\\) (?<atom>\\S+)")]
    private static partial Regex CompletedLine();

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

    /// <summary>BuildKit's "#13 4.504 " (step and seconds) and GitHub Actions' "2023-11-12T10:00:00.1234567Z " before each line.</summary>
    [GeneratedRegex("^(?:#[0-9]+ [0-9]+\\.[0-9]+ ?|[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\\.[0-9]+)?Z ?)")]
    private static partial Regex CiPrefix();

    [GeneratedRegex("^\\s{0,2}\\('(?:ebuild|installed|binary)', '[^']*', '(?<cpv>[^']+)', '[a-z]+'\\) pulled in by")]
    private static partial Regex TupleInstance();

    [GeneratedRegex("\\(([0-9]+) unsatisfied\\)")]
    private static partial Regex UnsatisfiedBlocks();

    [GeneratedRegex("^!!! Fetched file: (?<file>\\S+) VERIFY FAILED!")]
    private static partial Regex FetchVerifyFailed();

    [GeneratedRegex("\\d+")]
    private static partial Regex Digits();
}
