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

    /// <summary>Where the key's ownertrust is put for gpg to import it, inside the GNUPGHOME.</summary>
    public const string OwnertrustFile = "ownertrust.txt";

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

    /// <summary>
    /// What <see cref="ImportCommands"/> reads: the key at <see cref="ImportFile"/>, and an ultimate ownertrust for
    /// it at <see cref="OwnertrustFile"/>.
    /// </summary>
    public IReadOnlyDictionary<string, string> ImportFiles(string armoredKey) => new Dictionary<string, string>
    {
        [ImportFile] = armoredKey,
        [OwnertrustFile] = $"{Fingerprint}:6:\n",
    };

    /// <summary>
    /// The gpg runs that make <paramref name="home"/> sign with the key and also verify with it: a build that
    /// re-uses its own signed packages (--usepkg after a restart) has them verified, and Portage accepts only a
    /// fully or ultimately trusted signer, so the key is trusted ultimately and the trust database brought up to date.
    /// </summary>
    public static IReadOnlyList<IReadOnlyList<string>> ImportCommands(string home) =>
    [
        ["--homedir", home, "--batch", "--import", $"{home}/{ImportFile}"],
        ["--homedir", home, "--batch", "--import-ownertrust", $"{home}/{OwnertrustFile}"],
        ["--homedir", home, "--batch", "--check-trustdb"],
    ];

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
        new("BINPKG_GPG_VERIFY_GPG_HOME", HomeInRoot),
    ];
}
