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

    /// <summary>The init container; URLs and refs reach git as environment variables, never through the shell's parser.</summary>
    public static V1Container CheckoutContainer(IReadOnlyList<GitConfigSource> sources, string image)
    {
        var script = "set -eu\n" + string.Concat(sources.Select((_, i) =>
            $"d=\"$GIT_CHECKOUTS/{i}\"; git init -q \"$d\" && git -C \"$d\" fetch -q --depth 1 -- \"$GIT_URL_{i}\" \"$GIT_REF_{i}\" && git -C \"$d\" checkout -q FETCH_HEAD"
            + $" && echo \"configuration from $GIT_URL_{i} at $GIT_REF_{i}: $(git -C \"$d\" rev-parse HEAD)\"\n"));
        return new V1Container
        {
            Name = Volume,
            Image = image,
            Command = ["/bin/sh", "-c", script],
            Env =
            [
                new V1EnvVar { Name = "HOME", Value = Mount },
                new V1EnvVar { Name = "GIT_CHECKOUTS", Value = Mount },
                .. sources.SelectMany((s, i) => new[]
                {
                    new V1EnvVar { Name = $"GIT_URL_{i}", Value = s.Url },
                    new V1EnvVar { Name = $"GIT_REF_{i}", Value = string.IsNullOrEmpty(s.Ref) ? "main" : s.Ref },
                }),
            ],
            VolumeMounts = [new V1VolumeMount { Name = Volume, MountPath = Mount }],
        };
    }
}
