using System.Diagnostics;
using System.Text;
using Gentoo.Binhost;
using Gentoo.Operator.Tests.Chart;
using Gentoo.Portage.Signing;

namespace Gentoo.Operator.Tests.Binhost;

/// <summary>
/// The keys the operator makes and the client setup the binhost serves, checked by gpg itself: what signs in a
/// build pod and what verifies on a desktop.
/// </summary>
public sealed class SigningInteropTests : IDisposable
{
    private readonly DirectoryInfo work = Directory.CreateTempSubdirectory("gpg-");

    public void Dispose()
    {
        foreach (var home in work.EnumerateDirectories())
        {
            Run("gpgconf", ["--homedir", home.FullName, "--kill", "all"], allowFailure: true);
        }

        work.Delete(recursive: true);
    }

    private string Home(string name)
    {
        var home = work.CreateSubdirectory(name);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(home.FullName, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute); // gpg warns about others' access
        }

        return home.FullName;
    }

    private static string Run(string file, IEnumerable<string> args, string? input = null, bool allowFailure = false)
    {
        var start = new ProcessStartInfo(file == "gpg" ? Tools.Find("gpg")! : file) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = input is not null };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        if (input is not null)
        {
            process.StandardInput.Write(input);
            process.StandardInput.Close();
        }

        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        if (!allowFailure && process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{file} {string.Join(' ', start.ArgumentList)} exited {process.ExitCode}: {error}");
        }

        return output.Result + error;
    }

    /// <summary>Signs a file the way Portage's binpkg-signing does: an armored detached signature by the key's fingerprint.</summary>
    private string SignWithBuilderKey(string armoredSecretKey, string fingerprint)
    {
        var builder = Home("builder");
        Run("gpg", ["--homedir", builder, "--batch", "--import"], armoredSecretKey);
        var package = Path.Combine(work.FullName, "package.tar");
        File.WriteAllText(package, "the contents of a binary package");
        Run("gpg", ["--homedir", builder, "--batch", "--no-tty", "--local-user", "0x" + fingerprint, "--armor", "--detach-sign", "--output", package + ".sig", package]);
        return package;
    }

    [ToolFact("gpg")]
    public void A_key_the_operator_makes_is_read_by_gpg_with_the_same_fingerprint_and_signs_unattended()
    {
        var armored = SigningKeyGenerator.Generate("gentoo-builder binhost ns/desktops", DateTimeOffset.UtcNow).SecretKeyArmored;
        var key = SigningKey.Parse(Encoding.ASCII.GetBytes(armored), DateTimeOffset.UtcNow);

        var package = SignWithBuilderKey(armored, key.Fingerprint);

        var listing = Run("gpg", ["--homedir", Path.Combine(work.FullName, "builder"), "--batch", "--with-colons", "--list-secret-keys"]);
        listing.ShouldContain($"fpr:::::::::{key.Fingerprint}:");
        listing.ShouldContain("gentoo-builder binhost ns/desktops");
        var verifier = Home("verifier");
        Run("gpg", ["--homedir", verifier, "--batch", "--import"], key.PublicKeyArmored);
        Run("gpg", ["--homedir", verifier, "--batch", "--status-fd", "1", "--verify", package + ".sig", package]).ShouldContain($"[GNUPG:] VALIDSIG {key.Fingerprint}");
    }

    [ToolFact("gpg")]
    public void The_served_client_setup_makes_the_binhosts_signatures_fully_trusted_in_a_getuto_keyring()
    {
        var armored = SigningKeyGenerator.Generate("gentoo-builder binhost ns/desktops", DateTimeOffset.UtcNow).SecretKeyArmored;
        var key = SigningKey.Parse(Encoding.ASCII.GetBytes(armored), DateTimeOffset.UtcNow);
        var package = SignWithBuilderKey(armored, key.Fingerprint);

        // What getuto leaves in /etc/portage/gnupg: a keyring with an ultimately trusted local key and its passphrase in pass.
        var portage = Home("portage");
        File.WriteAllText(Path.Combine(portage, "pass"), "local-key-passphrase");
        Run("gpg", ["--homedir", portage, "--batch", "--pinentry-mode", "loopback", "--passphrase-file", Path.Combine(portage, "pass"), "--quick-generate-key", "Portage local key", "ed25519", "cert", "never"]);
        var before = Run("gpg", ["--homedir", portage, "--batch", "--status-fd", "1", "--import"], key.PublicKeyArmored);
        before.ShouldNotContain("TRUST_FULLY");

        var binrepos = Path.Combine(work.FullName, "binrepos.conf");
        var script = ClientSetup.Script(new ClientTarget("desktops", "http://binhost.example/", null, []), key.PublicKeyArmored, key.Fingerprint)
            .Replace("gnupg=\"$root/etc/portage/gnupg\"", $"gnupg={portage}", StringComparison.Ordinal)
            .Replace("binrepos=\"$root/etc/portage/binrepos.conf\"", $"binrepos={binrepos}", StringComparison.Ordinal);
        var path = Path.Combine(work.FullName, "client-setup.sh");
        File.WriteAllText(path, script);
        Run("sh", [path]);

        // Portage's verification: gpg --verify with the status lines it reads, and no trustdb check of its own.
        var verified = Run("gpg", ["--homedir", portage, "--batch", "--no-auto-check-trustdb", "--status-fd", "1", "--verify", package + ".sig", package]);
        verified.ShouldContain($"[GNUPG:] VALIDSIG {key.Fingerprint}");
        verified.ShouldContain("[GNUPG:] TRUST_FULLY");
        File.ReadAllText(Path.Combine(binrepos, "desktops.conf")).ShouldBe("[desktops]\npriority = 10\nsync-uri = http://binhost.example/\nverify-signature = true\n");
    }

    /// <summary>gpg's colon listing of the key in <paramref name="home"/>: validity (field 2) and expiry (field 7, seconds) of its primary.</summary>
    private static (string Validity, string Expires) Listed(string home, string fingerprint)
    {
        var pub = Run("gpg", ["--homedir", home, "--batch", "--with-colons", "--list-keys", fingerprint]).Split('\n').First(l => l.StartsWith("pub:", StringComparison.Ordinal)).Split(':');
        return (pub[1], pub[6]);
    }

    [ToolFact("gpg")]
    public void The_revocation_certificate_kept_beside_a_made_key_revokes_it_in_a_clients_keyring()
    {
        var made = SigningKeyGenerator.Generate("gentoo-builder binhost ns/desktops", DateTimeOffset.UtcNow);
        var key = SigningKey.Parse(Encoding.ASCII.GetBytes(made.SecretKeyArmored), DateTimeOffset.UtcNow);
        var client = Home("client");
        Run("gpg", ["--homedir", client, "--batch", "--import"], key.PublicKeyArmored);
        Listed(client, key.Fingerprint).Validity.ShouldNotBe("r");

        Run("gpg", ["--homedir", client, "--batch", "--import"], made.RevocationArmored);

        Listed(client, key.Fingerprint).Validity.ShouldBe("r");
    }

    [ToolFact("gpg")]
    public void An_extended_key_fetched_again_moves_the_expiry_a_client_already_trusts()
    {
        var created = DateTimeOffset.UtcNow.AddDays(-400);
        var made = Encoding.ASCII.GetBytes(SigningKeyGenerator.Generate("gentoo-builder binhost ns/desktops", created).SecretKeyArmored);
        var before = SigningKey.Parse(made, DateTimeOffset.UtcNow);
        var client = Home("client");
        Run("gpg", ["--homedir", client, "--batch", "--import"], before.PublicKeyArmored);
        Listed(client, before.Fingerprint).Expires.ShouldBe(before.Expires!.Value.ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture));

        var extended = SigningKey.Parse(Encoding.ASCII.GetBytes(SigningKeyGenerator.ExtendIfDue(made, DateTimeOffset.UtcNow)!), DateTimeOffset.UtcNow);
        Run("gpg", ["--homedir", client, "--batch", "--import"], extended.PublicKeyArmored);

        extended.Fingerprint.ShouldBe(before.Fingerprint);
        Listed(client, before.Fingerprint).Expires.ShouldBe(extended.Expires!.Value.ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture));
    }
}
