using System.Text;

namespace Gentoo.Binhost;

/// <summary>
/// What a Portage client needs to use a binhost: its binrepos.conf section, and a script that trusts the binhost's
/// signing key in the keyring Portage verifies with (/etc/portage/gnupg, kept by getuto) and installs that section.
/// </summary>
public static class ClientSetup
{
    /// <summary>
    /// The binrepos.conf section. Portage 3.0.78 and later verify signatures unless told not to: an unsigned binhost
    /// says so, a signed one says it must.
    /// </summary>
    public static string BinreposConf(string name, string url, bool signed) =>
        $"[{name}]\npriority = 10\nsync-uri = {url}\nverify-signature = {(signed ? "true" : "false")}\n";

    /// <summary>A POSIX shell script to run as root on the client; <paramref name="publicKey"/> is null for an unsigned binhost.</summary>
    public static string Script(string name, string url, string? publicKey, string? fingerprint)
    {
        var script = new StringBuilder();
        script.Append("#!/bin/sh\n");
        script.Append("# Sets this machine up to install binary packages from the gentoo-builder binhost ").Append(name).Append(" (").Append(url).Append(").\n");
        script.Append("# Run it as root; afterwards: emerge --ask --getbinpkg --update --deep --newuse @world\n");
        script.Append("set -eu\n");
        script.Append("gnupg=/etc/portage/gnupg\n");
        script.Append("binrepos=/etc/portage/binrepos.conf\n");
        if (publicKey is not null && fingerprint is not null)
        {
            script.Append("\n# Portage verifies binary packages with the keyring getuto keeps; make it if it is not there yet.\n");
            script.Append("[ -f \"$gnupg/pass\" ] || getuto\n");
            script.Append("gpg --homedir \"$gnupg\" --batch --import <<'KEY'\n").Append(publicKey.TrimEnd('\n')).Append("\nKEY\n");
            script.Append("# Certify the binhost's key with the keyring's own local key, so its signatures count as valid.\n");
            script.Append("gpg --homedir \"$gnupg\" --batch --yes --pinentry-mode loopback --passphrase-file \"$gnupg/pass\" --quick-lsign-key ").Append(fingerprint).Append('\n');
            script.Append("gpg --homedir \"$gnupg\" --batch --check-trustdb\n");
        }

        script.Append("\nif [ -f \"$binrepos\" ]; then\n");
        script.Append("  echo \"$binrepos is a file; add this section to it:\" >&2\n");
        script.Append("  cat >&2 <<'CONF'\n").Append(BinreposConf(name, url, publicKey is not null)).Append("CONF\n");
        script.Append("  exit 1\n");
        script.Append("fi\n");
        script.Append("mkdir -p \"$binrepos\"\n");
        script.Append("cat > \"$binrepos/").Append(name).Append(".conf\" <<'CONF'\n").Append(BinreposConf(name, url, publicKey is not null)).Append("CONF\n");
        script.Append("echo \"binhost ").Append(name).Append(" is set up in $binrepos/").Append(name).Append(".conf\"\n");
        return script.ToString();
    }
}
