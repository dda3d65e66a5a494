using Gentoo.Entities.V1Alpha1;
using Gentoo.Operator.Runtime;
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
                continue; // checked out in the pod itself (DesiredGitConfig)
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
}
