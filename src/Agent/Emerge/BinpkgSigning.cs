using Gentoo.Portage.Signing;

namespace Gentoo.Agent.Emerge;

/// <summary>
/// How emerge signs the binary packages it builds: GPKG packages, FEATURES=binpkg-signing, with the key imported
/// into a GNUPGHOME that lives in memory (never on the root volume, so never in a snapshot).
/// </summary>
public sealed record BinpkgSigning(string Fingerprint)
{
    /// <summary>The signing GNUPGHOME as seen inside the root.</summary>
    public const string HomeInRoot = "/run/gentoo-builder/gnupg";

    /// <summary>Where the key is put for gpg to import it, inside the GNUPGHOME.</summary>
    public const string ImportFile = "import.asc";

    /// <summary>The signing environment of a person's shell, on the same tmpfs as the key: gone with the pod.</summary>
    public const string ShellEnvironmentInRoot = "/run/gentoo-builder/signing.env";

    /// <summary>The login-shell hook in the root that reads it; does nothing where no shell pod signs.</summary>
    public const string ShellProfileInRoot = "/etc/profile.d/gentoo-builder-signing.sh";

    /// <summary>Makes emerge in a login shell of the root sign as builds do, for as long as this pod runs.</summary>
    public static void WriteShellProfile(string root, BinpkgSigning signing)
    {
        var environment = string.Concat(signing.Environment([]).Select(p => $"export {p.Key}=\"{p.Value}\"\n"));
        File.WriteAllText(Path.Combine(root, ShellEnvironmentInRoot.TrimStart('/')), environment);
        var profile = Path.Combine(root, ShellProfileInRoot.TrimStart('/'));
        Directory.CreateDirectory(Path.GetDirectoryName(profile)!);
        File.WriteAllText(profile, $"# gentoo-builder: in a builder's shell pod, emerge signs binary packages as its builds do.\n[ -r {ShellEnvironmentInRoot} ] && . {ShellEnvironmentInRoot}\n");
    }

    /// <summary>Reads and checks the key before anything is built with it.</summary>
    public static BinpkgSigning For(string keyFile)
    {
        if (!File.Exists(keyFile))
        {
            throw new UsageException($"--signing-key {keyFile}: no such file (is the signing Secret mounted there?)");
        }

        try
        {
            return new BinpkgSigning(SigningKey.Parse(File.ReadAllBytes(keyFile)).Fingerprint);
        }
        catch (SigningKeyException e)
        {
            throw new UsageException($"--signing-key {keyFile}: {e.Message}");
        }
    }

    /// <summary>gpg's arguments that import the key (placed at <see cref="ImportFile"/>) into the signing home.</summary>
    public static IReadOnlyList<string> ImportArguments() => ["--homedir", HomeInRoot, "--batch", "--import", $"{HomeInRoot}/{ImportFile}"];

    /// <summary>
    /// What emerge needs in its environment to sign. FEATURES is incremental in Portage, so this adds to the
    /// make.conf value rather than replacing it.
    /// </summary>
    public IEnumerable<KeyValuePair<string, string>> Environment(IEnumerable<string> moreFeatures) =>
    [
        new("FEATURES", string.Join(' ', ["binpkg-signing", .. moreFeatures])),
        new("BINPKG_FORMAT", "gpkg"),
        new("BINPKG_GPG_SIGNING_GPG_HOME", HomeInRoot),
        new("BINPKG_GPG_SIGNING_KEY", "0x" + Fingerprint),
    ];
}
