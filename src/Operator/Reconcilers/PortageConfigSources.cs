using Gentoo.Entities.V1Alpha1;
using Gentoo.Runtime;
using k8s;

namespace Gentoo.Operator.Reconcilers;

/// <summary>The data of a spec's configFrom ConfigMaps, in order (git sources are checked out in the pod); or what is wrong, naming the field.</summary>
public sealed record ConfigSources(IReadOnlyList<IDictionary<string, string>> ConfigMaps, string? Problem);

public static class PortageConfigSources
{
    public const string ConfigNotFound = "ConfigNotFound";

    public static async Task<ConfigSources> ReadAsync(IKubernetes kube, string ns, IList<ConfigSource>? sources, CancellationToken ct)
    {
        if (Desired.DesiredGitConfig.Problem(sources) is { } problem)
        {
            return new ConfigSources([], problem);
        }

        var maps = new List<IDictionary<string, string>>();
        for (var i = 0; i < (sources?.Count ?? 0); i++)
        {
            var source = sources![i];
            if (source.Git is not null)
            {
                // Checked out in the pod itself (DesiredGitConfig); only its credentials are looked at here.
                if (source.Git.SecretRef is { } secretRef && await GitCredentialsProblemAsync(kube, ns, secretRef.Name, i, source.Git.Url, ct) is { } credentials)
                {
                    return new ConfigSources(maps, credentials);
                }

                continue;
            }

            var name = source.ConfigMapRef!.Name;
            if (await CoreWrites.ReadConfigMapAsync(kube, ns, name, ct) is not { } configMap)
            {
                return new ConfigSources(maps, $"spec.configFrom[{i}].configMapRef: ConfigMap {name} does not exist in {ns}");
            }

            maps.Add(configMap.Data ?? new Dictionary<string, string>());
        }

        return new ConfigSources(maps, null);
    }

    /// <summary>What is wrong with a git source's credentials Secret, naming the field; null when it can be used.</summary>
    private static async Task<string?> GitCredentialsProblemAsync(IKubernetes kube, string ns, string name, int index, string url, CancellationToken ct)
    {
        var field = $"spec.configFrom[{index}].git.secretRef";
        var secret = await CoreWrites.ReadOrNullAsync(() => kube.CoreV1.ReadNamespacedSecretAsync(name, ns, cancellationToken: ct));
        if (secret is null)
        {
            return $"{field}: Secret {name} does not exist in {ns}";
        }

        var keys = secret.Data?.Keys.ToHashSet(StringComparer.Ordinal) ?? [];
        var ssh = !url.StartsWith("http://", StringComparison.Ordinal) && !url.StartsWith("https://", StringComparison.Ordinal);
        return ssh && !(keys.Contains("ssh-privatekey") && keys.Contains("known_hosts"))
                ? $"{field}: Secret {name} needs ssh-privatekey and known_hosts (the host keys to trust, e.g. from ssh-keyscan) for {url}"
            : !ssh && !(keys.Contains("username") && keys.Contains("password"))
                ? $"{field}: Secret {name} needs username and password (or a token as the password) for {url}"
            : null;
    }
}
