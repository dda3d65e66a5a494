using Gentoo.Portage.Signing;

namespace Gentoo.Agent.Emerge;

/// <summary>
/// How emerge signs the binary packages it builds: GPKG packages, FEATURES=binpkg-signing, with the key imported
/// into a GNUPGHOME that lives in memory (never on the root volume, so never in a snapshot). Portage verifies every
/// package it has just made (and every one it re-uses) with gpg as an unprivileged user (GPG_VERIFY_USER_DROP,
/// nobody:nogroup), so verification has a home of its own: the public key only, readable by anyone, as getuto leaves
/// /etc/portage/gnupg on a client.
/// </summary>
public sealed record BinpkgSigning(string Fingerprint, string PublicKeyArmored)
{
    /// <summary>The memory-backed directory in the root that holds both homes; gone with the pod.</summary>
    public const string RuntimeInRoot = "/run/gentoo-builder";

    /// <summary>The signing GNUPGHOME as seen inside the root: the secret key, root only.</summary>
    public const string HomeInRoot = RuntimeInRoot + "/gnupg";

    /// <summary>The verifying GNUPGHOME as seen inside the root: the public key, ultimately trusted, readable by the drop user.</summary>
    public const string VerifyHomeInRoot = RuntimeInRoot + "/gnupg-verify";

    /// <summary>Where the key is put for gpg to import it, inside the signing GNUPGHOME.</summary>
    public const string ImportFile = "import.asc";

    /// <summary>Where the public key is put for gpg to import it, inside the verifying GNUPGHOME.</summary>
    public const string PublicImportFile = "public.asc";

    /// <summary>Where the key's ownertrust is put for gpg to import it, inside each GNUPGHOME.</summary>
    public const string OwnertrustFile = "ownertrust.txt";

    /// <summary>The signing environment of a person's shell, on the same tmpfs as the key: gone with the pod.</summary>
    public const string ShellEnvironmentInRoot = RuntimeInRoot + "/signing.env";

    /// <summary>The login-shell hook in the root that reads it; does nothing where no shell pod signs.</summary>
    public const string ShellProfileInRoot = "/etc/profile.d/gentoo-builder-signing.sh";

    /// <summary>Makes emerge in a login shell of the root sign as builds do, for as long as this pod runs.</summary>
    public static void WriteShellProfile(string root, BinpkgSigning signing)
    {
        var environment = string.Concat(signing.Environment([]).Select(p => $"export {p.Key}=\"{p.Value}\"\n"));
        var file = Path.Combine(root, ShellEnvironmentInRoot.TrimStart('/'));
        File.WriteAllText(file, environment);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(file, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }

        var profile = Path.Combine(root, ShellProfileInRoot.TrimStart('/'));
        Directory.CreateDirectory(Path.GetDirectoryName(profile)!);
        File.WriteAllText(profile, $"# gentoo-builder: in a builder's shell pod, emerge signs binary packages as its builds do.\n[ -r {ShellEnvironmentInRoot} ] && . {ShellEnvironmentInRoot}\n");
    }

    /// <summary>Reads and checks the key before anything is built with it: one that cannot sign at <paramref name="now"/> stops the run here.</summary>
    public static BinpkgSigning For(string keyFile, DateTimeOffset now)
    {
        if (!File.Exists(keyFile))
        {
            throw new UsageException($"--signing-key {keyFile}: no such file (is the signing Secret mounted there?)");
        }

        try
        {
            var key = SigningKey.Parse(File.ReadAllBytes(keyFile), now);
            return new BinpkgSigning(key.Fingerprint, key.PublicKeyArmored);
        }
        catch (SigningKeyException e)
        {
            throw new UsageException($"--signing-key {keyFile}: {e.Message}");
        }
    }

    /// <summary>
    /// What <see cref="SigningImportCommands"/> reads from the signing home: the key at <see cref="ImportFile"/>, and an
    /// ultimate ownertrust for it at <see cref="OwnertrustFile"/>.
    /// </summary>
    public IReadOnlyDictionary<string, string> SigningImportFiles(string armoredKey) => new Dictionary<string, string>
    {
        [ImportFile] = armoredKey,
        [OwnertrustFile] = Ownertrust,
    };

    /// <summary>What <see cref="VerifyImportCommands"/> reads from the verifying home: the public key only, and its ownertrust.</summary>
    public IReadOnlyDictionary<string, string> VerifyImportFiles() => new Dictionary<string, string>
    {
        [PublicImportFile] = PublicKeyArmored,
        [OwnertrustFile] = Ownertrust,
    };

    private string Ownertrust => $"{Fingerprint}:6:\n";

    /// <summary>The gpg runs that make <paramref name="home"/> sign with the key.</summary>
    public static IReadOnlyList<IReadOnlyList<string>> SigningImportCommands(string home) => ImportCommands(home, ImportFile);

    /// <summary>
    /// The gpg runs that make <paramref name="home"/> verify with the key: a build that re-uses its own signed packages
    /// (--usepkg after a restart) has them verified, and Portage accepts only a fully or ultimately trusted signer
    /// (it verifies with --no-auto-check-trustdb), so the key is trusted ultimately and the trust database brought up
    /// to date here, by root, before the drop user only reads it.
    /// </summary>
    public static IReadOnlyList<IReadOnlyList<string>> VerifyImportCommands(string home) => ImportCommands(home, PublicImportFile);

    private static IReadOnlyList<IReadOnlyList<string>> ImportCommands(string home, string keyFile) =>
    [
        ["--homedir", home, "--batch", "--import", $"{home}/{keyFile}"],
        ["--homedir", home, "--batch", "--import-ownertrust", $"{home}/{OwnertrustFile}"],
        ["--homedir", home, "--batch", "--check-trustdb"],
    ];

    /// <summary>
    /// What getuto does to /etc/portage/gnupg so Portage's drop user can verify: the home and everything in it readable
    /// (and directories enterable) by anyone; gpg.conf silences the warnings about a home owned by someone else.
    /// </summary>
    public static void OpenForVerification(string verifyHome)
    {
        File.WriteAllText(Path.Combine(verifyHome, "gpg.conf"), "no-permission-warning\n");
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        const UnixFileMode Readable = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;
        const UnixFileMode Enterable = Readable | UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute;
        File.SetUnixFileMode(verifyHome, Enterable);
        foreach (var entry in new DirectoryInfo(verifyHome).EnumerateFileSystemInfos("*", SearchOption.AllDirectories))
        {
            if (entry.LinkTarget is not null || entry.Name.StartsWith("S.", StringComparison.Ordinal))
            {
                continue; // gpg-agent's sockets stay as the agent made them
            }

            entry.UnixFileMode = entry is DirectoryInfo ? Enterable : Readable;
        }
    }

    /// <summary>
    /// What emerge needs in its environment to sign and to verify. FEATURES is incremental in Portage, so this adds to
    /// the make.conf value rather than replacing it.
    /// </summary>
    public IEnumerable<KeyValuePair<string, string>> Environment(IEnumerable<string> moreFeatures) =>
    [
        new("FEATURES", string.Join(' ', ["binpkg-signing", .. moreFeatures])),
        new("BINPKG_FORMAT", "gpkg"),
        new("BINPKG_GPG_SIGNING_GPG_HOME", HomeInRoot),
        new("BINPKG_GPG_SIGNING_KEY", "0x" + Fingerprint),
        new("BINPKG_GPG_VERIFY_GPG_HOME", VerifyHomeInRoot),
    ];
}
