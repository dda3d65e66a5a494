using System.Text;

namespace Gentoo.Binhost;

/// <summary>Where a client gets packages and repositories: the binhost's base URL and, when pinned, the release.</summary>
/// <param name="Name">The binrepos.conf section (the builder's name).</param>
/// <param name="Url">The binhost's base URL, ending in '/'.</param>
/// <param name="Release">A release the client is pinned to; null follows the published one.</param>
/// <param name="Repositories">The ebuild repositories of that release, served as git snapshots.</param>
public sealed record ClientTarget(string Name, string Url, string? Release, IReadOnlyList<string> Repositories)
{
    /// <summary>The binrepos.conf sync-uri: the binhost, or a pinned release's own directory of it.</summary>
    public string PackagesUrl => Release is null ? Url : $"{Url}releases/{Release}/";

    public string RepositoryUrl(string repository) => $"{PackagesUrl}repos/{repository}.git";
}

/// <summary>
/// What a Portage client needs to use a binhost: its binrepos.conf section, the repos.conf sections that sync each
/// ebuild repository from the snapshot the packages were built from, and a script that trusts the binhost's signing
/// key in the keyring Portage verifies with (/etc/portage/gnupg, kept by getuto) and installs all of it.
/// </summary>
public static class ClientSetup
{
    /// <summary>
    /// The binrepos.conf section. Portage 3.0.78 and later verify signatures unless told not to: an unsigned binhost
    /// says so, a signed one says it must.
    /// </summary>
    public static string BinreposConf(ClientTarget target, bool signed) =>
        $"[{target.Name}]\npriority = 10\nsync-uri = {target.PackagesUrl}\nverify-signature = {(signed ? "true" : "false")}\n";

    /// <summary>
    /// The repos.conf sections: each repository synced with git from the binhost's snapshot. The binhost speaks git's
    /// "dumb" HTTP protocol (plain files, no server-side git), which cannot make shallow clones: Portage's default depth
    /// of 1 is turned off. The published branch only ever moves forward (a rollback is a new commit), so Portage's
    /// merge after each fetch always applies.
    /// </summary>
    public static string ReposConf(ClientTarget target)
    {
        var text = new StringBuilder();
        text.Append("# gentoo-builder binhost ").Append(target.Name).Append(": the repositories ")
            .Append(target.Release is null ? "the published release was" : $"release {target.Release} was").Append(" built from\n");
        foreach (var repository in target.Repositories)
        {
            text.Append('\n').Append('[').Append(repository).Append("]\n");
            text.Append("location = /var/db/repos/").Append(repository).Append('\n');
            text.Append(SyncLines(target, repository));
        }

        return text.ToString();
    }

    private static string SyncLines(ClientTarget target, string repository) =>
        $"sync-type = git\nsync-uri = {target.RepositoryUrl(repository)}\nclone-depth = 0\nsync-depth = 0\nvolatile = no\nauto-sync = yes\n";

    /// <summary>A POSIX shell script to run as root on the client (ROOT= installs into another root); <paramref name="publicKey"/> is null for an unsigned binhost.</summary>
    public static string Script(ClientTarget target, string? publicKey, string? fingerprint)
    {
        var name = target.Name;
        var signed = publicKey is not null && fingerprint is not null;
        var script = new StringBuilder();
        script.Append("#!/bin/sh\n");
        script.Append("# Sets this machine up to install binary packages from the gentoo-builder binhost ").Append(name).Append(" (").Append(target.Url).Append(")\n");
        script.Append("# and to sync its ebuild repositories from the snapshot those packages were built from.\n");
        script.Append("# Run it as root; afterwards: emerge --sync && emerge --ask --getbinpkg --update --deep --newuse @world\n");
        script.Append("set -eu\n");
        script.Append("root=\"${ROOT:-}\"; root=\"${root%/}\"\n");
        script.Append("gnupg=\"$root/etc/portage/gnupg\"\n");
        script.Append("binrepos=\"$root/etc/portage/binrepos.conf\"\n");
        script.Append("repos=\"$root/etc/portage/repos.conf\"\n");
        if (signed)
        {
            script.Append("\n# Portage verifies binary packages with the keyring getuto keeps; make it if it is not there yet.\n");
            script.Append("[ -f \"$gnupg/pass\" ] || getuto\n");
            script.Append("gpg --homedir \"$gnupg\" --batch --import <<'KEY'\n").Append(publicKey!.TrimEnd('\n')).Append("\nKEY\n");
            script.Append("# Certify the binhost's key with the keyring's own local key, so its signatures count as valid.\n");
            script.Append("gpg --homedir \"$gnupg\" --batch --yes --pinentry-mode loopback --passphrase-file \"$gnupg/pass\" --quick-lsign-key ").Append(fingerprint).Append('\n');
            script.Append("gpg --homedir \"$gnupg\" --batch --check-trustdb\n");
        }

        script.Append("\nif [ -f \"$binrepos\" ]; then\n");
        script.Append("  echo \"$binrepos is a file; add this section to it:\" >&2\n");
        script.Append("  cat >&2 <<'CONF'\n").Append(BinreposConf(target, signed)).Append("CONF\n");
        script.Append("  exit 1\n");
        script.Append("fi\n");

        script.Append("mkdir -p \"$binrepos\"\n");
        script.Append("cat > \"$binrepos/").Append(name).Append(".conf\" <<'CONF'\n").Append(BinreposConf(target, signed)).Append("CONF\n");
        script.Append("echo \"binhost ").Append(name).Append(" is set up in $binrepos/").Append(name).Append(".conf\"\n");
        if (target.Repositories.Count == 0)
        {
            return script.ToString();
        }

        script.Append("\n# Each repository where Portage already keeps it (else /var/db/repos/NAME). A tree that is not a git checkout yet\n");
        script.Append("# (rsync) is moved aside, never deleted: git clones into an empty directory.\n");
        script.Append("if [ -f \"$repos\" ]; then\n  echo \"$repos is a file; make it a directory (mv $repos $repos.d && mkdir $repos && mv $repos.d $repos/gentoo.conf)\" >&2\n  exit 1\nfi\n");
        script.Append("mkdir -p \"$repos\"\n");
        script.Append("conf=\"$repos/zz-gentoo-builder-").Append(name).Append(".conf\"\n");
        script.Append("echo '# gentoo-builder binhost ").Append(name).Append(": repositories as the packages were built from them' > \"$conf\"\n");
        foreach (var repository in target.Repositories)
        {
            script.Append("location=$(portageq get_repo_path \"${ROOT:-/}\" ").Append(repository).Append(" 2>/dev/null || true)\n");
            script.Append("[ -n \"$location\" ] || location=/var/db/repos/").Append(repository).Append('\n');
            script.Append("if [ -d \"$root$location\" ] && [ ! -d \"$root$location/.git\" ] && [ -n \"$(ls -A \"$root$location\")\" ]; then\n");
            script.Append("  mv \"$root$location\" \"$root$location.before-gentoo-builder\"\n");
            script.Append("  echo \"moved the existing $location aside to $location.before-gentoo-builder\"\n");
            script.Append("fi\n");
            script.Append("cat >> \"$conf\" <<CONF\n\n[").Append(repository).Append("]\nlocation = $location\n")
                .Append(SyncLines(target, repository)).Append("CONF\n");
        }

        script.Append("echo \"repositories ").Append(string.Join(' ', target.Repositories)).Append(" sync from the binhost: see $conf\"\n");
        return script.ToString();
    }
}
