using System.Text;
using Gentoo.Entities.V1Alpha1;
using k8s;
using k8s.Models;

namespace Gentoo.Operator.Desired;

/// <summary>
/// The Portage configuration the agent writes as managed files, as ConfigMap data (one key per file: make.conf,
/// repos.conf, world, package.use, package.accept_keywords, ...). The inline configuration comes first, then each
/// configFrom ConfigMap in order, appended key by key, so a later make.conf assignment wins as it does in Portage.
/// </summary>
public static class DesiredConfig
{
    public static IReadOnlyDictionary<string, string> Portage(
        PortageConfig? inline, IReadOnlyList<RepositorySpec>? repositories, IEnumerable<IDictionary<string, string>> configMaps)
    {
        var data = new SortedDictionary<string, StringBuilder>(StringComparer.Ordinal);
        void Append(string key, IEnumerable<string> lines)
        {
            var text = string.Concat(lines.Select(l => l.TrimEnd('\n') + "\n"));
            if (text.Length == 0)
            {
                return;
            }

            if (!data.TryGetValue(key, out var builder))
            {
                data[key] = builder = new StringBuilder();
            }

            builder.Append(text);
        }

        if (inline is not null)
        {
            Append("make.conf", (inline.MakeConf ?? new Dictionary<string, string>()).Select(p => $"{p.Key}=\"{Escape(p.Value)}\""));
            Append("package.use", inline.PackageUse ?? []);
            Append("package.accept_keywords", inline.PackageAcceptKeywords ?? []);
            Append("package.mask", inline.PackageMask ?? []);
            Append("package.unmask", inline.PackageUnmask ?? []);
            Append("package.license", inline.PackageLicense ?? []);
            Append("world", inline.World ?? []);
        }

        if (repositories is { Count: > 0 })
        {
            Append("repos.conf", [ReposConf(repositories)]);
        }

        foreach (var configMap in configMaps)
        {
            foreach (var (key, value) in configMap.OrderBy(p => p.Key, StringComparer.Ordinal))
            {
                Append(key, [value]);
            }
        }

        return data.ToDictionary(p => p.Key, p => p.Value.ToString(), StringComparer.Ordinal);
    }

    /// <summary>
    /// A ConfigMap of <paramref name="owner"/> (a GentooBootstrap or GentooBuilder), labelled with its kind's label; a
    /// <paramref name="retained"/> one carries no owner reference, so it outlives its owner as the packages do.
    /// </summary>
    public static V1ConfigMap ConfigMap(IKubernetesObject<V1ObjectMeta> owner, string name, IDictionary<string, string> data, bool retained = false) => new()
    {
        ApiVersion = "v1",
        Kind = "ConfigMap",
        Metadata = new V1ObjectMeta
        {
            Name = name,
            NamespaceProperty = owner.Namespace(),
            Labels = new Dictionary<string, string>
            {
                [ObjectLabels.ManagedBy] = ObjectLabels.ManagedByOperator,
                [owner.Kind == GentooBuilder.KubeKind ? ObjectLabels.Builder : ObjectLabels.Bootstrap] = owner.Name(),
            },
            OwnerReferences = retained ? null : [DesiredVolumes.OwnedBy(owner)],
        },
        Data = data,
    };

    /// <summary>repos.conf for the repositories: the first is the main repository; all live under /var/db/repos.</summary>
    public static string ReposConf(IReadOnlyList<RepositorySpec> repositories)
    {
        var text = new StringBuilder();
        text.Append("[DEFAULT]\nmain-repo = ").Append(repositories[0].Name).Append('\n');
        foreach (var repository in repositories)
        {
            text.Append('\n').Append('[').Append(repository.Name).Append("]\n");
            text.Append("location = ").Append(Location(repository)).Append('\n');
            if (repository.SyncType != SyncType.None)
            {
                // Without a sync-type, emaint sync and emerge --sync leave the repository as it is.
                text.Append("sync-type = ").Append(repository.SyncType switch
                {
                    SyncType.Git => "git",
                    SyncType.Rsync => "rsync",
                    _ => "webrsync",
                }).Append('\n');
            }
            if (!string.IsNullOrEmpty(repository.Uri))
            {
                text.Append("sync-uri = ").Append(repository.Uri).Append('\n');
            }

            if (repository.SyncType == SyncType.Git && !string.IsNullOrEmpty(repository.Branch))
            {
                text.Append("sync-git-clone-extra-opts = --branch=").Append(repository.Branch).Append('\n');
            }

            if (repository.Priority is { } priority)
            {
                text.Append("priority = ").Append(priority).Append('\n');
            }
        }

        return text.ToString();
    }

    /// <summary>Where a repository lives in the root: its location, else /var/db/repos/NAME.</summary>
    public static string Location(RepositorySpec repository) => repository.Location ?? "/var/db/repos/" + repository.Name;

    private static string Escape(string value) => value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal);
}
