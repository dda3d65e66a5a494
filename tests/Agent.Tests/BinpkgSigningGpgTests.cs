using System.Runtime.CompilerServices;
using System.Diagnostics;
using Gentoo.Agent.Emerge;
using Gentoo.Portage.Tests;
using Gentoo.Tests;

namespace Gentoo.Agent.Tests;

/// <summary>gpg is on PATH, or the test is skipped saying how to get it.</summary>
public sealed class GpgFactAttribute : SkippableFactAttribute
{
    public GpgFactAttribute([CallerMemberName] string test = "") : base(test)
    {
        if (!(Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Any(d => File.Exists(Path.Combine(d, "gpg"))))
        {
            SkipBecause("gpg is not on PATH (apt-get install gnupg)");
        }
    }
}

/// <summary>The agent's gpg runs, done by gpg itself: the home then signs as Portage does and verifies as Portage requires.</summary>
public sealed class BinpkgSigningGpgTests : IDisposable
{
    private readonly DirectoryInfo home = Directory.CreateTempSubdirectory("gpg-");

    public void Dispose()
    {
        Gpg("--homedir", Path.Combine(home.FullName, "gnupg"), "--kill", "all");
        Gpg("--homedir", Path.Combine(home.FullName, "gnupg-verify"), "--kill", "all");
        home.Delete(recursive: true);
    }

    private static (int ExitCode, string Output) Gpg(params string[] args)
    {
        var start = new ProcessStartInfo(args.Contains("--kill") ? "gpgconf" : "gpg") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, output.Result + error);
    }

    [GpgFact]
    public void After_the_imports_portages_drop_user_verifies_what_the_signing_home_signs_as_ultimately_trusted()
    {
        var keyFile = Fixtures.PathOf("signing", "ed25519-unprotected.asc");
        var signing = BinpkgSigning.For(keyFile, DateTimeOffset.UtcNow);
        var signingHome = Import(Path.Combine(home.FullName, "gnupg"), signing.SigningImportFiles(File.ReadAllText(keyFile)), BinpkgSigning.SigningImportCommands);
        var verifyHome = Import(Path.Combine(home.FullName, "gnupg-verify"), signing.VerifyImportFiles(), BinpkgSigning.VerifyImportCommands);
        BinpkgSigning.OpenForVerification(verifyHome);
        File.SetUnixFileMode(home.FullName, (UnixFileMode)0b111_101_101);

        // Portage's signing command, then its verifying one: as GPG_VERIFY_USER_DROP when run as root, data on stdin.
        var package = Path.Combine(home.FullName, "Manifest");
        File.WriteAllText(package, "DATA image.tar 1024 SHA512 00\n");
        Gpg("--homedir", signingHome, "--batch", "--no-tty", "--local-user", "0x" + signing.Fingerprint, "--armor", "--detach-sign", "--output", package + ".sig", package)
            .ExitCode.ShouldBe(0);
        File.SetUnixFileMode(package + ".sig", (UnixFileMode)0b110_100_100);
        var asDropUser = Environment.UserName == "root" ? new[] { "setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups" } : [];
        var verified = Run([.. asDropUser, "gpg", "--homedir", verifyHome, "--batch", "--no-tty", "--no-auto-check-trustdb", "--status-fd", "1", "--verify", package + ".sig", "-"], stdin: package);
        verified.ExitCode.ShouldBe(0, verified.Output);
        verified.Output.ShouldContain("[GNUPG:] TRUST_ULTIMATE");
        Directory.EnumerateFiles(verifyHome, "*", SearchOption.AllDirectories).Select(Path.GetFileName).ShouldNotContain(BinpkgSigning.PublicImportFile);
        Directory.EnumerateDirectories(verifyHome, "private-keys-v1.d").SelectMany(d => Directory.EnumerateFiles(d)).ShouldBeEmpty("the verifying home never holds the secret key");
        signing.Environment([]).ShouldContain(new KeyValuePair<string, string>("BINPKG_GPG_VERIFY_GPG_HOME", BinpkgSigning.VerifyHomeInRoot));
        signing.Environment([]).ShouldContain(new KeyValuePair<string, string>("BINPKG_GPG_SIGNING_GPG_HOME", BinpkgSigning.HomeInRoot));
    }

    private static string Import(string path, IReadOnlyDictionary<string, string> files, Func<string, IReadOnlyList<IReadOnlyList<string>>> commands)
    {
        Directory.CreateDirectory(path);
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        foreach (var (name, content) in files)
        {
            File.WriteAllText(Path.Combine(path, name), content);
        }

        foreach (var args in commands(path))
        {
            var run = Gpg([.. args]);
            run.ExitCode.ShouldBe(0, run.Output);
        }

        foreach (var name in files.Keys)
        {
            File.Delete(Path.Combine(path, name));
        }

        return path;
    }

    private static (int ExitCode, string Output) Run(string[] command, string stdin)
    {
        var start = new ProcessStartInfo(command[0]) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        foreach (var arg in command.Skip(1))
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        process.StandardInput.BaseStream.Write(File.ReadAllBytes(stdin));
        process.StandardInput.Close();
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, output.Result + error);
    }
}
