using System.Globalization;
using Gentoo.Entities.V1Alpha1;
using k8s.Models;

namespace Gentoo.Operator.Desired;

/// <summary>
/// Configuration from git (configFrom[].git): an init container of the operator image (which carries git) checks
/// each source out, shallow, at its ref (branch, tag or commit) into a shared volume; the agent applies each
/// checkout's directory, laid out like /etc/portage, after the ConfigMap keys.
/// </summary>
public static class DesiredGitConfig
{
    public const string Volume = "config-git";
    public const string Mount = "/etc/gentoo-builder/git";

    public static IReadOnlyList<GitConfigSource> Sources(IEnumerable<ConfigSource>? configFrom) =>
        [.. (configFrom ?? []).Where(s => s.Git is not null).Select(s => s.Git!)];

    /// <summary>Why a source cannot be checked out safely, naming the field; null when it can.</summary>
    public static string? Problem(IList<ConfigSource>? configFrom)
    {
        for (var i = 0; i < (configFrom?.Count ?? 0); i++)
        {
            if (configFrom![i].Git is { } git && (git.Path ?? "").Split('/').Any(part => part == ".."))
            {
                return $"spec.configFrom[{i}].git.path '{git.Path}' leaves the repository: use a directory inside it";
            }
        }

        return null;
    }

    public static string TreePath(int index, GitConfigSource source)
    {
        var checkout = $"{Mount}/{index.ToString(CultureInfo.InvariantCulture)}";
        return string.IsNullOrEmpty(source.Path?.Trim('/')) ? checkout : $"{checkout}/{source.Path.Trim('/')}";
    }

    /// <summary>Where source <paramref name="index"/>'s credentials (its secretRef) are mounted in the init container.</summary>
    public static string AuthPath(int index) => $"{AuthMount}/{index.ToString(CultureInfo.InvariantCulture)}";

    public const string AuthMount = "/etc/gentoo-builder/git-auth";

    // fetch DIR URL REF AUTH: a shallow checkout of REF, with the credentials in AUTH (ssh-privatekey and known_hosts,
    // or username and password, which a credential helper hands to git only when the server asks), if any.
    private const string Fetch = """
        fetch() {
          git init -q "$1"
          if [ -n "$4" ] && [ -f "$4/ssh-privatekey" ]; then
            GIT_SSH_COMMAND="ssh -i $4/ssh-privatekey -o IdentitiesOnly=yes -o UserKnownHostsFile=$4/known_hosts -o StrictHostKeyChecking=yes" \
              git -C "$1" fetch -q --depth 1 -- "$2" "$3"
          elif [ -n "$4" ]; then
            GIT_AUTH_DIR="$4" git -C "$1" -c credential.helper= \
              -c credential.helper='!f() { if [ "$1" = get ]; then printf "username=%s\npassword=%s\n" "$(cat "$GIT_AUTH_DIR/username")" "$(cat "$GIT_AUTH_DIR/password")"; fi; }; f' \
              fetch -q --depth 1 -- "$2" "$3"
          else
            git -C "$1" fetch -q --depth 1 -- "$2" "$3"
          fi
          git -C "$1" checkout -q FETCH_HEAD
          echo "configuration from $2 at $3: $(git -C "$1" rev-parse HEAD)"
        }

        """;

    /// <summary>
    /// The init container; URLs and refs reach git as environment variables, never through the shell's parser, and
    /// credentials as files of the sources' Secrets, never in the pod spec.
    /// </summary>
    public static V1Container CheckoutContainer(IReadOnlyList<GitConfigSource> sources, string image)
    {
        var script = "set -eu\n" + Fetch.Replace("\r\n", "\n", StringComparison.Ordinal) + string.Concat(sources.Select((_, i) =>
            $"fetch \"$GIT_CHECKOUTS/{i}\" \"$GIT_URL_{i}\" \"$GIT_REF_{i}\" \"$GIT_AUTH_{i}\"\n"));
        return new V1Container
        {
            Name = Volume,
            Image = image,
            Command = ["/bin/sh", "-c", script],
            // Root, not the image's user: Secret files are root's alone (mode 0400) and ssh needs an /etc/passwd entry.
            SecurityContext = new V1SecurityContext { RunAsUser = 0, RunAsGroup = 0 },
            Env =
            [
                new V1EnvVar { Name = "HOME", Value = Mount },
                new V1EnvVar { Name = "GIT_CHECKOUTS", Value = Mount },
                new V1EnvVar { Name = "GIT_TERMINAL_PROMPT", Value = "0" }, // wrong credentials fail, never wait for a keyboard
                .. sources.SelectMany((s, i) => new[]
                {
                    new V1EnvVar { Name = $"GIT_URL_{i}", Value = s.Url },
                    new V1EnvVar { Name = $"GIT_REF_{i}", Value = string.IsNullOrEmpty(s.Ref) ? "main" : s.Ref },
                    new V1EnvVar { Name = $"GIT_AUTH_{i}", Value = s.SecretRef is null ? "" : AuthPath(i) },
                }),
            ],
            VolumeMounts =
            [
                new V1VolumeMount { Name = Volume, MountPath = Mount },
                .. WithCredentials(sources).Select(p => new V1VolumeMount { Name = AuthVolume(p.Index), MountPath = AuthPath(p.Index), ReadOnlyProperty = true }),
            ],
        };
    }

    /// <summary>The Secret volumes of the sources with credentials: root-only files, mounted in the init container alone.</summary>
    public static IEnumerable<V1Volume> AuthVolumes(IReadOnlyList<GitConfigSource> sources) =>
        WithCredentials(sources).Select(p => new V1Volume
        {
            Name = AuthVolume(p.Index),
            Secret = new V1SecretVolumeSource { SecretName = p.Secret, DefaultMode = Convert.ToInt32("0400", 8) },
        });

    /// <summary>The sources that name a credentials Secret, with their position (which names their mount).</summary>
    private static IEnumerable<(int Index, string Secret)> WithCredentials(IReadOnlyList<GitConfigSource> sources) =>
        sources.Select((s, i) => (Index: i, Secret: s.SecretRef?.Name)).Where(p => p.Secret is not null).Select(p => (p.Index, p.Secret!));

    private static string AuthVolume(int index) => $"{Volume}-auth-{index.ToString(CultureInfo.InvariantCulture)}";
}
