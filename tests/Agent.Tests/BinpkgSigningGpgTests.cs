using System.Diagnostics;
using Gentoo.Agent.Emerge;
using Gentoo.Portage.Tests;

namespace Gentoo.Agent.Tests;

/// <summary>gpg is on PATH, or the test is skipped saying how to get it.</summary>
public sealed class GpgFactAttribute : FactAttribute
{
    public GpgFactAttribute()
    {
        if (!(Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Any(d => File.Exists(Path.Combine(d, "gpg"))))
        {
            Skip = "gpg is not on PATH (apt-get install gnupg)";
        }
    }
}

/// <summary>The agent's gpg runs, done by gpg itself: the home then signs as Portage does and verifies as Portage requires.</summary>
public sealed class BinpkgSigningGpgTests : IDisposable
{
    private readonly DirectoryInfo home = Directory.CreateTempSubdirectory("gpg-");

    public void Dispose()
    {
        Gpg("--homedir", home.FullName, "--kill", "all");
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
    public void After_the_import_a_restarted_build_verifies_its_own_signed_packages_as_ultimately_trusted()
    {
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(home.FullName, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }

        var keyFile = Fixtures.PathOf("signing", "ed25519-unprotected.asc");
        var signing = BinpkgSigning.For(keyFile);
        foreach (var (name, content) in signing.ImportFiles(File.ReadAllText(keyFile)))
        {
            File.WriteAllText(Path.Combine(home.FullName, name), content);
        }

        foreach (var args in BinpkgSigning.ImportCommands(home.FullName))
        {
            var run = Gpg([.. args]);
            run.ExitCode.ShouldBe(0, run.Output);
        }

        // Portage's signing and verifying commands, with the environment the agent gives emerge.
        var package = Path.Combine(home.FullName, "Manifest");
        File.WriteAllText(package, "DATA image.tar 1024 SHA512 00\n");
        Gpg("--homedir", home.FullName, "--batch", "--no-tty", "--local-user", "0x" + signing.Fingerprint, "--armor", "--detach-sign", "--output", package + ".sig", package)
            .ExitCode.ShouldBe(0);
        var verified = Gpg("--homedir", home.FullName, "--verify", "--batch", "--no-tty", "--no-auto-check-trustdb", "--status-fd", "1", package + ".sig", package);
        verified.ExitCode.ShouldBe(0, verified.Output);
        verified.Output.ShouldContain("[GNUPG:] TRUST_ULTIMATE");
        signing.Environment([]).ShouldContain(new KeyValuePair<string, string>("BINPKG_GPG_VERIFY_GPG_HOME", BinpkgSigning.HomeInRoot));
    }
}
