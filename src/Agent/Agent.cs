using System.Globalization;
using Gentoo.Agent.Config;
using Gentoo.Agent.Emerge;
using Gentoo.Agent.Kernel;
using Gentoo.Agent.Progress;
using Gentoo.Agent.Releases;
using Gentoo.Agent.Reports;
using Gentoo.Agent.Root;
using Gentoo.Portage.Emerge;
using Gentoo.Portage.Releases;
using Gentoo.Portage.Repositories;
using Gentoo.Protocol;

namespace Gentoo.Agent;

/// <summary>
/// Runs one step in the Gentoo root and reports: the work the proof of concept's Makefile targets did
/// (sync, update, bootstrap, check, build) plus a ready chroot for a person (shell).
/// </summary>
public sealed class BuilderAgent(AgentOptions options, Stream console, TimeProvider clock, TextWriter? progress = null)
{
    private const string StepUseFile = "zz-gentoo-builder-step";
    private static readonly string[] DefaultCheck = ["--pretend", "--update", "--deep", "--newuse", "@world"];

    private readonly string stamp = clock.GetUtcNow().UtcDateTime.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture);

    private string LogDirectory => Path.Combine(options.Root, "var", "log", "gentoo-builder");

    private string LogPath => Path.Combine(LogDirectory, $"{options.Step.Name()}-{stamp}.log");

    public async Task<(int ExitCode, AgentReport Report)> RunAsync(CancellationToken stop)
    {
        var started = clock.GetUtcNow();
        if (!Directory.Exists(options.Root))
        {
            throw new UsageException($"the root volume {options.Root} is missing: is the PersistentVolumeClaim mounted there?");
        }

        var plan = options.Plan is null ? null : BootstrapPlan.Load(options.Plan);
        using var gentoo = options.NoChroot || options.Step == AgentStep.Publish ? null : new GentooRoot(options.Root, line => Say(line));
        if (gentoo is not null)
        {
            gentoo.EnsurePopulated(options.PopulateFrom, options.Step.Name(), clock.GetUtcNow());
            gentoo.Mount(new RootVolumes(options.Binpkgs, options.Distfiles, options.Repos));
            if (options.SigningKey is not null)
            {
                gentoo.MountMemory(BinpkgSigning.RuntimeInRoot.TrimStart('/'));
            }
        }

        if (options.Step != AgentStep.Publish && (options.ConfigDirectory is not null || options.ConfigTrees.Count > 0))
        {
            var changed = ManagedConfig.Apply(options.ConfigDirectory, options.ConfigTrees, options.Root, line => Say(line));
            Say($">>> gentoo-builder: configuration applied ({changed.Count} file(s) changed)");
        }

        var (exitCode, report) = options.Step switch
        {
            AgentStep.Configure => Done(),
            AgentStep.Sync => await SyncAsync(stop),
            AgentStep.Update => await UpdateAsync(stop),
            AgentStep.Bootstrap => await BootstrapAsync(plan!, stop),
            AgentStep.Check => await EmergeAsync(EmergeInvocation.Check(options.EmergeArgs.Count > 0 ? options.EmergeArgs : DefaultCheck), stop),
            AgentStep.Build => await BuildAsync(stop),
            AgentStep.Shell => await ShellAsync(stop),
            AgentStep.Publish => Publish(),
        };
        report = report with { Step = options.Step, Log = LogPath, Started = started, Finished = clock.GetUtcNow() };
        Directory.CreateDirectory(LogDirectory);
        await File.WriteAllTextAsync(Path.Combine(LogDirectory, $"{options.Step.Name()}-{stamp}.json"), report.ToJson(), CancellationToken.None);
        return (exitCode, report);
    }

    /// <summary>make update's first half: every repository, as repos.conf says.</summary>
    private async Task<(int ExitCode, AgentReport Report)> SyncAsync(CancellationToken stop)
    {
        var result = await RunInRootAsync(options.Emaint, ["--auto", "sync"], classifier: null, stop);
        if (result.ExitCode == 0 && !result.Interrupted)
        {
            return Done();
        }

        return (ExitCodes.Transient, new AgentReport
        {
            Step = options.Step,
            Result = AgentResult.Transient,
            Outcome = result.Interrupted ? Outcome.Interrupted : Outcome.SyncFailure,
            EmergeExitCode = result.ExitCode,
            Error = $"emaint sync exited {result.ExitCode}; see {LogPath}",
        });
    }

    /// <summary>make update: sync, then show what a world update would change without building it.</summary>
    private async Task<(int ExitCode, AgentReport Report)> UpdateAsync(CancellationToken stop)
    {
        Stage("sync", 0, 2);
        var sync = await SyncAsync(stop);
        if (sync.ExitCode != ExitCodes.Success)
        {
            return sync;
        }

        Stage("world update preview", 1, 2);
        return await EmergeAsync(EmergeInvocation.UpdatePreview(), stop);
    }

    /// <summary>A progress line for a step of several stages, as emerge's packages give one for a build.</summary>
    private void Stage(string phase, int done, int total) => progress?.WriteLine(ProgressLines.Format(new AgentProgress(null, phase, done, total)));

    /// <summary>make build: emerge the requested packages, after a sync when asked.</summary>
    private async Task<(int ExitCode, AgentReport Report)> BuildAsync(CancellationToken stop)
    {
        if (options.Sync && await SyncAsync(stop) is { ExitCode: not ExitCodes.Success } failed)
        {
            return failed;
        }

        var (signing, importFailed) = await SigningAsync(stop);
        if (importFailed is { } failure)
        {
            return failure;
        }

        var (exitCode, report) = await EmergeAsync(EmergeInvocation.Build(new BuildRequest(options.Packages, options.EmergeArgs, options.KeepGoing)), stop, signing);
        var partial = options.KeepGoing && options.ReleasePartial && report.Outcome == Outcome.BuildFailure && report.PackagesMerged > 0;
        if (options.ReleaseRun is null || !(exitCode == ExitCodes.Success || partial))
        {
            return (exitCode, report); // failed and interrupted runs make no release
        }

        try
        {
            return (exitCode, report with { Releases = new AgentReleases(options, clock, Say).AfterBuild(partial: exitCode != ExitCodes.Success) });
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException or FormatException)
        {
            // The packages are built and kept; only the release is missing, and the next successful run makes one.
            Say($">>> gentoo-builder: no release made: {e.Message}");
            return (exitCode, report with { Releases = new ReportReleases(null, null, [], null) { NotMade = $"no release: {e.Message}" } });
        }
    }

    /// <summary>A person's rollback: the kept release they named becomes the published one; retention follows.</summary>
    private (int ExitCode, AgentReport Report) Publish()
    {
        try
        {
            return (ExitCodes.Success, new AgentReport { Step = options.Step, Result = AgentResult.Success, Releases = new AgentReleases(options, clock, Say).Publish(options.Publish!) });
        }
        catch (ReleaseNotFoundException e)
        {
            return (ExitCodes.NeedsOperator, new AgentReport { Step = options.Step, Result = AgentResult.NeedsOperator, Error = e.Message });
        }
    }

    /// <summary>
    /// With --signing-key: the key checked and imported into the in-memory GNUPGHOME emerge signs from, or the report
    /// of why that failed. Without: nothing to sign with.
    /// </summary>
    private async Task<(BinpkgSigning? Signing, (int ExitCode, AgentReport Report)? Failure)> SigningAsync(CancellationToken stop)
    {
        if (options.SigningKey is not { } keyFile)
        {
            return (null, null);
        }

        var signing = BinpkgSigning.For(keyFile, clock.GetUtcNow());
        Directory.CreateDirectory(Path.Combine(options.Root, "run", "lock")); // Portage's signing command takes its lock there
        var result = await ImportIntoHomeAsync(BinpkgSigning.HomeInRoot, signing.SigningImportFiles(await File.ReadAllTextAsync(keyFile, stop)),
            BinpkgSigning.SigningImportCommands(BinpkgSigning.HomeInRoot), stop);
        if (result.ExitCode == 0 && !result.Interrupted)
        {
            result = await ImportIntoHomeAsync(BinpkgSigning.VerifyHomeInRoot, signing.VerifyImportFiles(),
                BinpkgSigning.VerifyImportCommands(BinpkgSigning.VerifyHomeInRoot), stop);
            if (result.ExitCode == 0 && !result.Interrupted)
            {
                BinpkgSigning.OpenForVerification(Path.Combine(options.Root, BinpkgSigning.VerifyHomeInRoot.TrimStart('/')));
            }
        }

        if (result.ExitCode == 0 && !result.Interrupted)
        {
            Say($">>> gentoo-builder: signing binary packages with key 0x{signing.Fingerprint}; Portage verifies them with its public half in {BinpkgSigning.VerifyHomeInRoot}");
            return (signing, null);
        }

        return (null, (result.Interrupted ? ExitCodes.Transient : ExitCodes.NeedsOperator, new AgentReport
        {
            Step = options.Step,
            Result = result.Interrupted ? AgentResult.Transient : AgentResult.NeedsOperator,
            Outcome = result.Interrupted ? Outcome.Interrupted : Outcome.SigningFailure,
            Error = $"gpg could not import the signing key (exit {result.ExitCode}); see {LogPath}: check spec.signing's key (an unprotected OpenPGP secret key with a signing subkey) or set spec.signing.unsigned: true",
        }));
    }

    /// <summary>
    /// Makes a private GNUPGHOME at <paramref name="homeInRoot"/>, writes <paramref name="files"/> into it only for as
    /// long as the gpg <paramref name="commands"/> run (the secret key never stays on disk), and stops at the first
    /// command that fails.
    /// </summary>
    private async Task<CommandResult> ImportIntoHomeAsync(string homeInRoot, IReadOnlyDictionary<string, string> files, IEnumerable<IReadOnlyList<string>> commands, CancellationToken stop)
    {
        var path = Path.Combine(options.Root, homeInRoot.TrimStart('/'));
        Directory.CreateDirectory(path);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute); // gpg refuses a home others can write
        }

        // Keys in pubring.kbx, which the unprivileged verification reads as a file: gnupg 2.4 would otherwise keep
        // them in a keyboxd daemon of root's in a home it takes for a fresh install.
        await File.WriteAllTextAsync(Path.Combine(path, "common.conf"), "# gentoo-builder: keyring files, no keyboxd\n", stop);
        foreach (var (name, content) in files)
        {
            await File.WriteAllTextAsync(Path.Combine(path, name), content, stop);
        }

        try
        {
            var result = new CommandResult(0, false);
            foreach (var args in commands)
            {
                result = await RunInRootAsync(options.Gpg, args, classifier: null, stop);
                if (result.ExitCode != 0 || result.Interrupted)
                {
                    break;
                }
            }

            return result;
        }
        finally
        {
            foreach (var name in files.Keys)
            {
                File.Delete(Path.Combine(path, name));
            }
        }
    }

    /// <summary>The ordered steps that break bootstrap cycles, each with its temporary USE, then the check.</summary>
    private async Task<(int ExitCode, AgentReport Report)> BootstrapAsync(BootstrapPlan plan, CancellationToken stop)
    {
        var completed = new List<string>();
        var stepUse = Path.Combine(options.Root, "etc", "portage", "package.use", StepUseFile);
        foreach (var step in plan.Steps)
        {
            Say($">>> gentoo-builder: bootstrap step {step.Name}: {string.Join(' ', step.Atoms)}{(step.Use is { Count: > 0 } ? $" with USE=\"{string.Join(' ', step.Use)}\" for this step" : "")}");
            if (step.Use is { Count: > 0 })
            {
                Directory.CreateDirectory(Path.GetDirectoryName(stepUse)!);
                await File.WriteAllLinesAsync(stepUse, [ManagedConfig.BeginMarker, .. step.Atoms.Select(a => $"{a} {string.Join(' ', step.Use)}")], CancellationToken.None);
            }

            (int ExitCode, AgentReport Report) result;
            try
            {
                result = await EmergeAsync(EmergeInvocation.BootstrapStep(step.Atoms, step.EmergeArgs ?? [], step.Oneshot), stop);
            }
            finally
            {
                // The temporary USE must never outlive its step, even when the step fails or is interrupted.
                File.Delete(stepUse);
            }

            if (result.ExitCode != ExitCodes.Success)
            {
                return (result.ExitCode, result.Report with { BootstrapStep = step.Name, CompletedSteps = completed });
            }

            completed.Add(step.Name);
        }

        if (plan.Check is { Enabled: false })
        {
            return (ExitCodes.Success, new AgentReport { Step = options.Step, Result = AgentResult.Success, CompletedSteps = completed });
        }

        var check = await EmergeAsync(EmergeInvocation.Check(plan.Check?.EmergeArgs is { Count: > 0 } args ? args : DefaultCheck), stop);
        return (check.ExitCode, check.Report with { BootstrapStep = check.ExitCode == ExitCodes.Success ? null : "check", CompletedSteps = completed });
    }

    /// <summary>make bash: a ready chroot (mounted, configured) that a person enters with kubectl exec, until the pod ends.</summary>
    private async Task<(int ExitCode, AgentReport Report)> ShellAsync(CancellationToken stop)
    {
        // What a person emerges lands in the same PKGDIR clients verify, so it is signed as builds sign.
        var (signing, importFailed) = await SigningAsync(stop);
        if (importFailed is { } failure)
        {
            return failure;
        }

        if (signing is not null)
        {
            BinpkgSigning.WriteShellProfile(options.Root, signing);
        }

        Say($">>> gentoo-builder: the root is ready; enter it with: kubectl exec -it POD -- chroot {options.Root} /bin/bash --login");
        try
        {
            await Task.Delay(Timeout.Infinite, stop);
        }
        catch (OperationCanceledException)
        {
        }

        return Done();
    }

    private async Task<(int ExitCode, AgentReport Report)> EmergeAsync(IReadOnlyList<string> args, CancellationToken stop, BinpkgSigning? signing = null)
    {
        // Keyword changes are proposed at the builder's width; the slot comes from the root's repositories, as Portage reads it.
        var classifier = new EmergeClassifier(new ClassifierOptions
        {
            KeywordScope = options.KeywordScope,
            SlotOf = EbuildRepositories.SlotLookup(Path.Combine(options.Root, "var", "db", "repos")),
        });
        RemovePackageLeftovers("an earlier attempt");
        var observability = ObservabilitySnapshots.Supported(options.Root);
        // A killed emerge's snapshot stays behind on the root volume: only what this run's emerge writes is its progress.
        // (A second's slack for filesystems whose timestamps lag the clock; an earlier attempt's pod ended before that.)
        var since = clock.GetUtcNow().UtcDateTime - TimeSpan.FromSeconds(1);
        EmergeProgress? published = null;
        void Publish(EmergeProgress p)
        {
            lock (classifier)
            {
                if (progress is null || p == published)
                {
                    return;
                }

                published = p;
                progress.WriteLine(ProgressLines.Format(new AgentProgress(p.Package, p.Phase, p.Done, p.Total)));
            }
        }

        // Portage's own snapshots, where it publishes them, are the better source; the console lines work everywhere.
        classifier.ProgressChanged += p =>
        {
            if (!observability || ObservabilitySnapshots.Read(options.Root, since) is null)
            {
                Publish(p);
            }
        };
        using var polling = CancellationTokenSource.CreateLinkedTokenSource(stop);
        var poll = observability ? PollSnapshotsAsync(Publish, since, polling.Token) : Task.CompletedTask;
        string[] features = observability ? ["observability"] : [];
        IEnumerable<KeyValuePair<string, string>> added = signing?.Environment(features) ?? (features.Length > 0 ? [new("FEATURES", string.Join(' ', features))] : []);
        var environment = EmergeInvocation.Environment(options.Cpus).Concat(added).ToDictionary();
        var result = await RunInRootAsync(options.Emerge, args, classifier, stop, environment);
        await polling.CancelAsync();
        await poll;
        var outcome = classifier.Complete(result.Interrupted ? 143 : result.ExitCode);

        // A snapshot is taken while a package is still being merged; the console's count of completions is the final word.
        Publish(classifier.Progress with { Package = null, Phase = null, Total = Math.Max(classifier.Progress.Total, classifier.Progress.Done) });
        RemovePackageLeftovers("this attempt");
        var (exitCode, meaning) = Meaning(outcome);
        var kernel = MergedPackages.Scan(options.Root, outcome.Merged);
        var report = AgentReports.FromOutcome(options.Step, meaning, outcome, result.ExitCode) with
        {
            RequiredKernel = kernel.Required?.ToString(),
            KernelFiles = kernel.RequiringFiles.Select(f => "/" + Path.GetRelativePath(options.Root, f.Path)).Take(20).ToList(),
        };
        return (exitCode, report);
    }

    /// <summary>Removes the placeholders and temporary files an emerge that did not finish left in PKGDIR, saying which.</summary>
    private void RemovePackageLeftovers(string whose)
    {
        var pkgdir = options.Binpkgs ?? Path.Combine(options.Root, "var", "cache", "binpkgs");
        foreach (var file in PackageLeftovers.Remove(pkgdir))
        {
            Say($">>> gentoo-builder: removed {file} from PKGDIR: left unfinished by {whose}");
        }
    }

    private async Task PollSnapshotsAsync(Action<EmergeProgress> publish, DateTime since, CancellationToken stop)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1), clock);
        try
        {
            while (await timer.WaitForNextTickAsync(stop))
            {
                if (ObservabilitySnapshots.Read(options.Root, since) is { } snapshot)
                {
                    publish(snapshot);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>Runs a Portage command in the root: through chroot (stderr joined to stdout in order), or directly.</summary>
    private Task<CommandResult> RunInRootAsync(
        string executable, IReadOnlyList<string> args, EmergeClassifier? classifier, CancellationToken stop, IReadOnlyDictionary<string, string>? environment = null)
    {
        var (file, arguments) = options.NoChroot
            ? (executable, args)
            : ("chroot", (IReadOnlyList<string>)[options.Root, "/bin/sh", "-c", "exec \"$0\" \"$@\" 2>&1", executable, .. args]);
        return new CommandRunner(console, LogPath, options.GracePeriod).RunAsync(file, arguments, environment ?? EmergeInvocation.Environment(options.Cpus), classifier, stop);
    }

    /// <summary>What the emerge outcome means for the operator: done, ask a person, or retry.</summary>
    internal static (int ExitCode, AgentResult Meaning) Meaning(EmergeOutcome outcome)
    {
        var result = outcome.Class switch
        {
            OutcomeClass.Success => AgentResult.Success,
            OutcomeClass.FetchFailure or OutcomeClass.Interrupted => AgentResult.Transient,
            _ => AgentResult.NeedsOperator,
        };
        return (ExitCodes.Of(result), result);
    }

    private (int ExitCode, AgentReport Report) Done() => (ExitCodes.Success, new AgentReport { Step = options.Step, Result = AgentResult.Success });

    private void Say(string line)
    {
        var bytes = System.Text.Encoding.UTF8.GetBytes(line + "\n");
        console.Write(bytes);
        console.Flush();
    }
}
