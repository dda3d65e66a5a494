using System.Runtime.CompilerServices;
using System.Diagnostics;
using System.Text;
using Gentoo.Portage.Tests;
using Gentoo.Tests;

namespace Gentoo.Agent.Tests;

/// <summary>Runs only as root with a static busybox (CI installs busybox-static); says why it skipped otherwise.</summary>
public sealed class ChrootFactAttribute : SkippableFactAttribute
{
    private static readonly Lazy<string?> Missing = new(Probe);

    public ChrootFactAttribute([CallerMemberName] string test = "") : base(test)
    {
        if (Missing.Value is { } reason)
        {
            SkipBecause(reason);
        }
    }

    private static string? Probe()
    {
        if (Environment.UserName != "root")
        {
            return "needs root for chroot and mount (CI runs as root)";
        }

        if (!File.Exists("/bin/busybox"))
        {
            return "needs a static /bin/busybox for the test root (apt-get install busybox-static)";
        }

        var probe = Directory.CreateTempSubdirectory("busybox-probe-");
        try
        {
            Directory.CreateDirectory(Path.Combine(probe.FullName, "bin"));
            File.Copy("/bin/busybox", Path.Combine(probe.FullName, "bin", "busybox"));
            using var chroot = Process.Start(new ProcessStartInfo("chroot", [probe.FullName, "/bin/busybox", "true"]) { RedirectStandardError = true })!;
            chroot.WaitForExit();
            return chroot.ExitCode == 0 ? null : "/bin/busybox does not run in an empty chroot: install the static build (busybox-static)";
        }
        finally
        {
            probe.Delete(recursive: true);
        }
    }
}

/// <summary>
/// The agent's production path: a stage3-like filesystem (busybox plus a stand-in emerge that replays real Portage
/// output) is unpacked onto the root volume, proc/sys/dev and the binary package volume are mounted, and emerge
/// runs inside the chroot.
/// </summary>
public sealed class ChrootTests : IDisposable
{
    private readonly DirectoryInfo work = Directory.CreateTempSubdirectory("agent-chroot-");

    private string Stage3 => Path.Combine(work.FullName, "stage3");

    private string Root => Path.Combine(work.FullName, "root");

    private string Binpkgs => Path.Combine(work.FullName, "binpkgs");

    public void Dispose()
    {
        EndProcessesIn(Root);
        // Never delete through a mount that is still there.
        if (!File.ReadAllText("/proc/mounts").Contains(work.FullName, StringComparison.Ordinal))
        {
            work.Delete(recursive: true);
        }
    }

    /// <summary>Ends what still runs with its root in <paramref name="root"/>: the gpg-agent a real gpg started there.</summary>
    private static void EndProcessesIn(string root)
    {
        foreach (var process in Directory.EnumerateDirectories("/proc").Where(d => Path.GetFileName(d).All(char.IsAsciiDigit)))
        {
            try
            {
                if (new DirectoryInfo(Path.Combine(process, "root")).LinkTarget == root)
                {
                    Process.GetProcessById(int.Parse(Path.GetFileName(process), System.Globalization.CultureInfo.InvariantCulture)).Kill();
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or InvalidOperationException)
            {
                // gone already, or not ours
            }
        }
    }

    /// <summary>
    /// The host's real gpg (with gpg-agent and the libraries they load) in the stage3, and the accounts a stage3 has:
    /// root, and nobody:nogroup, whom Portage verifies binary packages as.
    /// </summary>
    private void AddRealGpg()
    {
        foreach (var tool in new[] { "/usr/bin/gpg", "/usr/bin/gpg-agent", "/usr/bin/gpgconf", "/usr/bin/gpg-connect-agent" })
        {
            CopyIntoStage3(tool);
            using var ldd = Process.Start(new ProcessStartInfo("ldd", [tool]) { RedirectStandardOutput = true })!;
            foreach (var library in ldd.StandardOutput.ReadToEnd().Split((char[])[' ', '\t', '\n']).Where(w => w.StartsWith('/')))
            {
                CopyIntoStage3(library);
            }

            ldd.WaitForExit();
        }

        File.WriteAllText(Path.Combine(Stage3, "etc", "passwd"), "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/var/empty:/bin/sh\n");
        File.WriteAllText(Path.Combine(Stage3, "etc", "group"), "root:x:0:\nnogroup:x:65534:\n");
    }

    private void CopyIntoStage3(string path)
    {
        var target = Path.Combine(Stage3, path.TrimStart('/'));
        Directory.CreateDirectory(Path.GetDirectoryName(target)!);
        File.Copy(new FileInfo(path).ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? path, target, overwrite: true);
    }

    private void MakeStage3(string emergeScript)
    {
        var bin = Path.Combine(Stage3, "bin");
        Directory.CreateDirectory(bin);
        File.Copy("/bin/busybox", Path.Combine(bin, "busybox"));
        Directory.CreateDirectory(Path.Combine(Stage3, "etc"));
        foreach (var applet in new[] { "sh", "cat", "ls", "mkdir", "cp", "mv", "rm", "chmod", "sleep", "echo", "true", "env", "grep", "su", "touch" })
        {
            File.CreateSymbolicLink(Path.Combine(bin, applet), "busybox");
        }

        var replay = Path.Combine(Stage3, "var", "tmp", "replay");
        Directory.CreateDirectory(replay);
        foreach (var log in new[] { "01-success-build", "03-success-usepkg-reuse", "21-killed-sigterm" })
        {
            File.Copy(Fixtures.PathOf("portage", "logs", log + ".log"), Path.Combine(replay, log + ".log"));
        }

        File.Copy(Fixtures.PathOf("portage", "pkgdir", "dev-libs", "libkver", "libkver-0.3-1.gpkg.tar"), Path.Combine(replay, "libkver-0.3-1.gpkg.tar"));
        File.Copy(Fixtures.PathOf("portage", "elf", "libkver-abi-3.17.0.so"), Path.Combine(replay, "libkver-abi-3.17.0.so"));
        var emerge = Path.Combine(Stage3, "usr", "bin", "emerge");
        Directory.CreateDirectory(Path.GetDirectoryName(emerge)!);
        File.WriteAllText(emerge, emergeScript.ReplaceLineEndings("\n"));
        File.SetUnixFileMode(emerge, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        Directory.CreateDirectory(Binpkgs);
        Directory.CreateDirectory(Root);
    }

    // A stand-in for emerge inside the chroot: replays real Portage output and leaves what emerge leaves, binary
    // packages in PKGDIR and /var/db/pkg entries with real ELF files; with a binary package present it re-uses it.
    private const string ReplayingEmerge = """
        #!/bin/sh
        echo "$*" > /var/tmp/emerge.args
        if ls /var/cache/binpkgs/dev-libs/libkver/libkver-0.3-1.gpkg.tar >/dev/null 2>&1; then
          cat /var/tmp/replay/03-success-usepkg-reuse.log
        else
          cat /var/tmp/replay/01-success-build.log
          mkdir -p /var/cache/binpkgs/dev-libs/libkver
          cp /var/tmp/replay/libkver-0.3-1.gpkg.tar /var/cache/binpkgs/dev-libs/libkver/
        fi
        mkdir -p /var/db/pkg/dev-libs/libkver-0.3 /usr/lib64
        cp /var/tmp/replay/libkver-abi-3.17.0.so /usr/lib64/libkver.so.0
        echo "obj /usr/lib64/libkver.so.0 0 0" > /var/db/pkg/dev-libs/libkver-0.3/CONTENTS
        exit 0
        """;

    private async Task<(int ExitCode, AgentReport Report, string Console)> BuildAsync(CancellationToken stop = default, params string[] more)
    {
        var options = AgentOptions.Parse(["build", "--root", Root, "--populate-from", Stage3, "--binpkgs", Binpkgs, "--package", "@world", "--grace-period", "10", .. more]);
        using var console = new MemoryStream();
        var (exitCode, report) = await new BuilderAgent(options, console, TimeProvider.System).RunAsync(stop);
        return (exitCode, report, Encoding.UTF8.GetString(console.ToArray()));
    }

    [ChrootFact]
    public async Task Build_in_a_chroot_unpacks_the_stage3_once_binds_the_binpkgs_volume_and_unmounts()
    {
        MakeStage3(ReplayingEmerge);

        var (exitCode, report, console) = await BuildAsync();

        exitCode.ShouldBe(ExitCodes.Success, console);
        File.Exists(Path.Combine(Root, ".gentoo-builder-root")).ShouldBeTrue();
        File.Exists(Path.Combine(Root, "bin", "busybox")).ShouldBeTrue("the stage3 filesystem was unpacked onto the root volume");
        File.Exists(Path.Combine(Binpkgs, "dev-libs", "libkver", "libkver-0.3-1.gpkg.tar")).ShouldBeTrue("emerge in the chroot wrote to the bound volume");
        File.ReadAllText(Path.Combine(Root, "var", "tmp", "emerge.args")).Trim().ShouldBe("--buildpkg --usepkg --ask=n @world");
        report.Outcome.ShouldBe(Outcome.Success);
        report.PackagesMerged.ShouldBe(4);
        report.RequiredKernel.ShouldBe("3.17.0");
        File.ReadAllText("/proc/mounts").ShouldNotContain(Root);
    }

    [ChrootFact]
    public async Task An_empty_root_is_filled_only_when_asked_and_never_from_the_agents_own_filesystem()
    {
        MakeStage3(ReplayingEmerge);
        var options = AgentOptions.Parse(["build", "--root", Root, "--binpkgs", Binpkgs, "--package", "@world"]);
        using var console = new MemoryStream();

        var error = await Should.ThrowAsync<UsageException>(() => new BuilderAgent(options, console, TimeProvider.System).RunAsync(default));

        error.Message.ShouldContain("holds no Gentoo system");
        error.Message.ShouldContain("--populate-from");
        Directory.EnumerateFileSystemEntries(Root).ShouldBeEmpty("nothing was copied into the root");
        File.ReadAllText("/proc/mounts").ShouldNotContain(Root);

        var (exitCode, _, built) = await BuildAsync();
        exitCode.ShouldBe(ExitCodes.Success, built);
        File.ReadAllText(Path.Combine(Root, ".gentoo-builder-root")).ShouldStartWith($"unpacked from {Stage3} (build, ");
    }

    [ChrootFact]
    public async Task A_signing_build_imports_the_key_into_a_memory_home_and_asks_emerge_to_sign_with_it()
    {
        MakeStage3(ReplayingEmerge.Replace("echo \"$*\" > /var/tmp/emerge.args", "echo \"$*\" > /var/tmp/emerge.args\nenv > /var/tmp/emerge.env", StringComparison.Ordinal));
        // A stand-in gpg: records what it was asked, whether the key was there to import, and where its home lived.
        var gpg = Path.Combine(Stage3, "usr", "bin", "gpg");
        File.WriteAllText(gpg, """
            #!/bin/sh
            echo "$*" >> /var/tmp/gpg.args
            case "$4" in
              --import) grep -q "BEGIN PGP PRIVATE KEY BLOCK" "$5" && echo present > /var/tmp/gpg.key ;;
              --import-ownertrust) cat "$5" > /var/tmp/gpg.ownertrust ;;
            esac
            grep " /run/gentoo-builder " /proc/mounts > /var/tmp/gpg.mount
            exit 0
            """.ReplaceLineEndings("\n"));
        File.SetUnixFileMode(gpg, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var fingerprint = File.ReadAllText(Fixtures.PathOf("signing", "ed25519.fingerprint")).Trim();

        var (exitCode, _, console) = await BuildAsync(default, "--signing-key", Fixtures.PathOf("signing", "ed25519-unprotected.asc"));

        exitCode.ShouldBe(ExitCodes.Success, console);
        var tmp = Path.Combine(Root, "var", "tmp");
        File.ReadAllLines(Path.Combine(tmp, "gpg.args")).ShouldBe([
            "--homedir /run/gentoo-builder/gnupg --batch --import /run/gentoo-builder/gnupg/import.asc",
            "--homedir /run/gentoo-builder/gnupg --batch --import-ownertrust /run/gentoo-builder/gnupg/ownertrust.txt",
            "--homedir /run/gentoo-builder/gnupg --batch --check-trustdb",
            "--homedir /run/gentoo-builder/gnupg-verify --batch --import /run/gentoo-builder/gnupg-verify/public.asc",
            "--homedir /run/gentoo-builder/gnupg-verify --batch --import-ownertrust /run/gentoo-builder/gnupg-verify/ownertrust.txt",
            "--homedir /run/gentoo-builder/gnupg-verify --batch --check-trustdb",
        ]);
        File.ReadAllText(Path.Combine(tmp, "gpg.key")).Trim().ShouldBe("present");
        File.ReadAllText(Path.Combine(tmp, "gpg.ownertrust")).ShouldBe($"{fingerprint}:6:\n");
        File.ReadAllText(Path.Combine(tmp, "gpg.mount")).ShouldContain("tmpfs");
        var environment = File.ReadAllLines(Path.Combine(tmp, "emerge.env"));
        environment.ShouldContain("FEATURES=binpkg-signing");
        environment.ShouldContain("BINPKG_FORMAT=gpkg");
        environment.ShouldContain("BINPKG_GPG_SIGNING_GPG_HOME=/run/gentoo-builder/gnupg");
        environment.ShouldContain($"BINPKG_GPG_SIGNING_KEY=0x{fingerprint}");
        environment.ShouldContain("BINPKG_GPG_VERIFY_GPG_HOME=/run/gentoo-builder/gnupg-verify");
        Directory.EnumerateFileSystemEntries(Path.Combine(Root, "run", "gentoo-builder")).ShouldBeEmpty("the key's home was in memory, not on the root volume");
        File.ReadAllText("/proc/mounts").ShouldNotContain(Root);
    }

    [ChrootFact]
    public async Task A_shell_pods_login_shell_signs_as_builds_do_and_the_key_leaves_with_the_pod()
    {
        MakeStage3(ReplayingEmerge);
        var gpg = Path.Combine(Stage3, "usr", "bin", "gpg");
        File.WriteAllText(gpg, "#!/bin/sh\nexit 0\n");
        File.SetUnixFileMode(gpg, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var options = AgentOptions.Parse(["shell", "--root", Root, "--populate-from", Stage3, "--binpkgs", Binpkgs, "--signing-key", Fixtures.PathOf("signing", "ed25519-unprotected.asc")]);
        using var stop = new CancellationTokenSource();
        using var console = new MemoryStream();
        var shell = new BuilderAgent(options, console, TimeProvider.System).RunAsync(stop.Token);
        var environment = Path.Combine(Root, "run", "gentoo-builder", "signing.env");
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!File.Exists(environment))
        {
            DateTime.UtcNow.ShouldBeLessThan(deadline, "the shell to prepare signing");
            if (shell.IsCompleted)
            {
                await shell;
            }

            await Task.Delay(20);
        }

        var fingerprint = File.ReadAllText(Fixtures.PathOf("signing", "ed25519.fingerprint")).Trim();
        File.ReadAllText(environment).ShouldContain($"export BINPKG_GPG_SIGNING_KEY=\"0x{fingerprint}\"");
        File.ReadAllText(environment).ShouldContain("export FEATURES=\"binpkg-signing\"");
        await stop.CancelAsync();
        (await shell).ExitCode.ShouldBe(ExitCodes.Success);

        File.ReadAllText(Path.Combine(Root, "etc", "profile.d", "gentoo-builder-signing.sh")).ShouldContain(". /run/gentoo-builder/signing.env");
        File.Exists(environment).ShouldBeFalse("the environment and the key were on the pod's tmpfs");
        File.ReadAllText("/proc/mounts").ShouldNotContain(Root);
    }

    // A stand-in for emerge with FEATURES=binpkg-signing, built from what Portage does: it reserves the package's
    // name with an empty file (binpkg-multi-instance), writes the package to NAME.PID, signs it with the signing home,
    // and before taking it verifies it as Portage does: gpg as GPG_VERIFY_USER_DROP (nobody:nogroup) with the
    // verifying home, the signature in a file anyone can read, the data on stdin, and GOODSIG plus TRUST_ULTIMATE or
    // TRUST_FULLY required. A failed verification prints what Portage prints and leaves what Portage leaves.
    private const string SigningEmerge = """
        #!/bin/sh
        pkg=/var/cache/binpkgs/dev-libs/libkver/libkver-0.3-1.gpkg.tar
        echo ">>> Emerging (1 of 1) dev-libs/libkver-0.3::demo"
        echo ">>> Compiling source in /var/tmp/portage/dev-libs/libkver-0.3/work ..."
        echo ">>> Creating binpkg"
        mkdir -p /var/cache/binpkgs/dev-libs/libkver
        touch "$pkg"
        cp /var/tmp/replay/libkver-0.3-1.gpkg.tar "$pkg.$$"
        gpg --homedir "$BINPKG_GPG_SIGNING_GPG_HOME" --local-user "$BINPKG_GPG_SIGNING_KEY" --batch --no-tty --armor --detach-sign --output /var/tmp/portage-sign.sig "$pkg.$$" || { echo "!!! GPG signing failed"; exit 1; }
        chmod 644 /var/tmp/portage-sign.sig
        su -s /bin/sh nobody -c "gpg --homedir $VERIFY_HOME --batch --no-tty --no-auto-check-trustdb --status-fd 1 --verify /var/tmp/portage-sign.sig -" < "$pkg.$$" > /var/tmp/gpg.status 2> /var/tmp/gpg.err
        if grep -q "GOODSIG" /var/tmp/gpg.status && grep -q "TRUST_ULTIMATE\|TRUST_FULLY" /var/tmp/gpg.status; then
          mv "$pkg.$$" "$pkg"
          echo ">>> Done."
          echo ">>> Completed (1 of 1) dev-libs/libkver-0.3::demo"
          exit 0
        fi
        echo "!!!"
        cat /var/tmp/gpg.err
        echo "!!! Invalid binary package: '$pkg', GnuPG verification failed"
        echo ">>> Failed to emerge dev-libs/libkver-0.3::demo"
        exit 1
        """;

    private string SigningStage3(string verifyHome)
    {
        MakeStage3(SigningEmerge.Replace("$VERIFY_HOME", verifyHome, StringComparison.Ordinal));
        AddRealGpg();
        return Fixtures.PathOf("signing", "ed25519-unprotected.asc");
    }

    [ChrootFact]
    public async Task A_signed_package_verifies_as_portages_unprivileged_user_with_the_public_half_only()
    {
        var key = SigningStage3("$BINPKG_GPG_VERIFY_GPG_HOME");

        var (exitCode, report, console) = await BuildAsync(default, "--signing-key", key);

        exitCode.ShouldBe(ExitCodes.Success, console);
        report.Outcome.ShouldBe(Outcome.Success);
        var package = new FileInfo(Path.Combine(Binpkgs, "dev-libs", "libkver", "libkver-0.3-1.gpkg.tar"));
        package.Length.ShouldBeGreaterThan(0);
        File.ReadAllText(Path.Combine(Root, "var", "tmp", "gpg.status")).ShouldContain("[GNUPG:] TRUST_ULTIMATE");
    }

    [ChrootFact]
    public async Task A_package_portage_cannot_verify_is_a_signing_failure_and_its_leftovers_leave_pkgdir()
    {
        // What the agent did before: one home for both, 0700 root, which nobody cannot read.
        var key = SigningStage3("$BINPKG_GPG_SIGNING_GPG_HOME");
        var finished = Path.Combine(Binpkgs, "app-misc", "greeter", "greeter-1.0-1.gpkg.tar");
        Directory.CreateDirectory(Path.GetDirectoryName(finished)!);
        File.Copy(Fixtures.PathOf("portage", "pkgdir", "app-misc", "greeter", "greeter-1.0-1.gpkg.tar"), finished);
        var killedEarlier = Path.Combine(Binpkgs, "app-misc", "greeter", "greeter-1.0-2.gpkg.tar");
        File.WriteAllBytes(killedEarlier, []);

        var (exitCode, report, console) = await BuildAsync(default, "--signing-key", key);

        exitCode.ShouldBe(ExitCodes.NeedsOperator, console);
        report.Outcome.ShouldBe(Outcome.SigningFailure);
        report.Atoms.ShouldBe(["dev-libs/libkver-0.3"]);
        report.Excerpt.ShouldContain(l => l.Contains("Permission denied", StringComparison.Ordinal));
        File.Exists(killedEarlier).ShouldBeFalse("an earlier attempt's placeholder is removed before emerge runs");
        Directory.EnumerateFiles(Path.Combine(Binpkgs, "dev-libs", "libkver")).ShouldBeEmpty("the placeholder and the NAME.PID file of this attempt are removed");
        new FileInfo(finished).Length.ShouldBe(new FileInfo(Fixtures.PathOf("portage", "pkgdir", "app-misc", "greeter", "greeter-1.0-1.gpkg.tar")).Length);
        console.ShouldContain("removed dev-libs/libkver/libkver-0.3-1.gpkg.tar from PKGDIR");
    }

    [ChrootFact]
    public async Task A_signing_key_gpg_cannot_use_unattended_stops_the_build_before_emerge_naming_the_argument()
    {
        MakeStage3(ReplayingEmerge);

        var error = await Should.ThrowAsync<UsageException>(() => BuildAsync(default, "--signing-key", Fixtures.PathOf("signing", "rsa-protected.asc")));

        error.Message.ShouldContain("--signing-key");
        error.Message.ShouldContain("passphrase");
        File.Exists(Path.Combine(Root, "var", "tmp", "emerge.args")).ShouldBeFalse();
        File.ReadAllText("/proc/mounts").ShouldNotContain(Root);
    }

    [ChrootFact]
    public async Task A_restarted_build_reuses_the_binary_packages_the_first_one_built()
    {
        MakeStage3(ReplayingEmerge);
        var first = await BuildAsync();
        first.Report.BinariesReused.ShouldBe(0);
        File.Delete(Path.Combine(Stage3, "bin", "busybox")); // the root is not unpacked again

        var second = await BuildAsync();

        second.ExitCode.ShouldBe(ExitCodes.Success, second.Console);
        second.Report.BinariesReused.ShouldBe(4);
        second.Console.ShouldContain(">>> Emerging binary (1 of 4) dev-libs/libgreet-2.1::demo");
    }

    [ChrootFact]
    public async Task Sigterm_mid_build_in_the_chroot_is_reported_interrupted_and_leaves_the_root_unmounted()
    {
        MakeStage3("""
            #!/bin/sh
            trap 'echo "Exiting on signal 15"; exit 143' TERM
            while read -r line; do
              case "$line" in Exiting*) break ;; esac
              echo "$line"
            done < /var/tmp/replay/21-killed-sigterm.log
            while :; do sleep 0.1; done
            """);
        using var stop = new CancellationTokenSource();
        var run = BuildAsync(stop.Token);
        await BuildLogs.WaitForAsync(Root, "compiling unit 5/60", run, TimeSpan.FromSeconds(30));

        await stop.CancelAsync();
        var (exitCode, report, console) = await run;

        exitCode.ShouldBe(ExitCodes.Transient, console);
        report.Outcome.ShouldBe(Outcome.Interrupted);
        report.Phase.ShouldBe("compile");
        File.ReadAllText("/proc/mounts").ShouldNotContain(Root);
    }
}
