using System.Diagnostics;
using System.Text;
using Gentoo.Portage.Tests;

namespace Gentoo.Agent.Tests;

/// <summary>Runs only as root with a static busybox (CI installs busybox-static); says why it skipped otherwise.</summary>
public sealed class ChrootFactAttribute : FactAttribute
{
    private static readonly Lazy<string?> Missing = new(Probe);

    public ChrootFactAttribute()
    {
        if (Missing.Value is { } reason)
        {
            Skip = reason;
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
        // Never delete through a mount that is still there.
        if (!File.ReadAllText("/proc/mounts").Contains(work.FullName, StringComparison.Ordinal))
        {
            work.Delete(recursive: true);
        }
    }

    private void MakeStage3(string emergeScript)
    {
        var bin = Path.Combine(Stage3, "bin");
        Directory.CreateDirectory(bin);
        File.Copy("/bin/busybox", Path.Combine(bin, "busybox"));
        foreach (var applet in new[] { "sh", "cat", "ls", "mkdir", "cp", "sleep", "echo", "true", "env", "grep" })
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

    private async Task<(int ExitCode, Reports.AgentReport Report, string Console)> BuildAsync(CancellationToken stop = default, params string[] more)
    {
        var options = AgentOptions.Parse(["build", "--root", Root, "--source", Stage3, "--binpkgs", Binpkgs, "--package", "@world", "--grace-period", "10", .. more]);
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
        report.Outcome.ShouldBe("success");
        report.PackagesMerged.ShouldBe(4);
        report.RequiredKernel.ShouldBe("3.17.0");
        File.ReadAllText("/proc/mounts").ShouldNotContain(Root);
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
        ]);
        File.ReadAllText(Path.Combine(tmp, "gpg.key")).Trim().ShouldBe("present");
        File.ReadAllText(Path.Combine(tmp, "gpg.ownertrust")).ShouldBe($"{fingerprint}:6:\n");
        File.ReadAllText(Path.Combine(tmp, "gpg.mount")).ShouldContain("tmpfs");
        var environment = File.ReadAllLines(Path.Combine(tmp, "emerge.env"));
        environment.ShouldContain("FEATURES=binpkg-signing");
        environment.ShouldContain("BINPKG_FORMAT=gpkg");
        environment.ShouldContain("BINPKG_GPG_SIGNING_GPG_HOME=/run/gentoo-builder/gnupg");
        environment.ShouldContain($"BINPKG_GPG_SIGNING_KEY=0x{fingerprint}");
        environment.ShouldContain("BINPKG_GPG_VERIFY_GPG_HOME=/run/gentoo-builder/gnupg");
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
        var options = AgentOptions.Parse(["shell", "--root", Root, "--source", Stage3, "--binpkgs", Binpkgs, "--signing-key", Fixtures.PathOf("signing", "ed25519-unprotected.asc")]);
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
        var log = Path.Combine(Root, "var", "log", "gentoo-builder");
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!(Directory.Exists(log) && Directory.GetFiles(log, "*.log").Any(f => File.ReadAllText(f).Contains("compiling unit 5/60", StringComparison.Ordinal))))
        {
            DateTime.UtcNow.ShouldBeLessThan(deadline, "the stand-in emerge to reach unit 5");
            if (run.IsCompleted)
            {
                await run; // surfaces why the build ended before it got there
            }

            await Task.Delay(20);
        }

        await stop.CancelAsync();
        var (exitCode, report, console) = await run;

        exitCode.ShouldBe(ExitCodes.Transient, console);
        report.Outcome.ShouldBe("interrupted");
        report.Phase.ShouldBe("compile");
        File.ReadAllText("/proc/mounts").ShouldNotContain(Root);
    }
}
