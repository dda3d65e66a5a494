using k8s;
using k8s.Exceptions;
using k8s.KubeConfigModels;
using YamlDotNet.Core;
using YamlDotNet.Serialization;

namespace Gentoo.Connection;

/// <summary>The kubeconfig kubectl would use, read into a client configuration.</summary>
public static class KubeconfigFile
{
    // Only the kubeconfig's own types: KubernetesClient's loader first builds its YAML reader for every Kubernetes type,
    // a third of a second of every start that reads a kubeconfig.
    private static readonly IDeserializer Reader = new DeserializerBuilder().IgnoreUnmatchedProperties().Build();

    /// <summary>
    /// The files a kubeconfig is looked for in, in kubectl's order: those <paramref name="explicitPaths"/> (a flag, or
    /// else KUBECONFIG) lists, else ~/.kube/config. Those that exist are merged (<see cref="Load"/>).
    /// </summary>
    public static string[] Candidates(string? explicitPaths)
    {
        var paths = string.IsNullOrWhiteSpace(explicitPaths) ? Environment.GetEnvironmentVariable("KUBECONFIG") : explicitPaths;
        return string.IsNullOrWhiteSpace(paths)
            ? [Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".kube", "config")]
            : paths.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries);
    }

    /// <summary>
    /// The client configuration of the kubeconfig files at <paramref name="paths"/> (those that exist, in order) merged as
    /// kubectl merges a KUBECONFIG list: the first file to name a cluster, user or context, or to set current-context,
    /// wins, and paths inside each file (certificates, keys) are relative to that file. At the current context, or
    /// <paramref name="context"/>.
    /// </summary>
    /// <exception cref="KubeConfigException">A file is not a kubeconfig, or the merge has no usable context, cluster or user.</exception>
    /// <exception cref="IOException">A file cannot be read.</exception>
    public static KubernetesClientConfiguration Load(IReadOnlyList<string> paths, string? context)
    {
        if (paths.Count == 0)
        {
            throw new ArgumentException("no kubeconfig file to read", nameof(paths));
        }

        var files = paths.Select(path =>
        {
            try
            {
                return Read(path);
            }
            catch (KubeConfigException e) when (paths.Count > 1)
            {
                throw new KubeConfigException($"{path}: {e.Message}"); // which of the merged files
            }
        }).ToList();
        var merged = new K8SConfiguration
        {
            // Where KubernetesClient resolves what is still relative; every file's own paths are made absolute below.
            FileName = files[0].FileName,
            CurrentContext = files.Select(f => f.CurrentContext).FirstOrDefault(c => !string.IsNullOrEmpty(c)),
            Clusters = FirstOfEachName(files.SelectMany(f => (f.Clusters ?? []).Select(c => WithAbsolutePaths(c, f.FileName))), c => c.Name),
            Users = FirstOfEachName(files.SelectMany(f => (f.Users ?? []).Select(u => WithAbsolutePaths(u, f.FileName))), u => u.Name),
            Contexts = FirstOfEachName(files.SelectMany(f => f.Contexts ?? []), c => c.Name),
        };
        return KubernetesClientConfiguration.BuildConfigFromConfigObject(merged, context);
    }

    private static K8SConfiguration Read(string path)
    {
        K8SConfiguration parsed;
        try
        {
            parsed = Reader.Deserialize<K8SConfiguration>(File.ReadAllText(path)) ?? throw new KubeConfigException("the file is empty");
        }
        catch (YamlException e)
        {
            throw new KubeConfigException($"not a kubeconfig: {e.Message}");
        }
        catch (UnauthorizedAccessException e)
        {
            throw new IOException(e.Message, e); // a file this account may not read is as unusable as a missing one
        }

        parsed.FileName = Path.GetFullPath(path);
        return parsed;
    }

    private static List<T> FirstOfEachName<T>(IEnumerable<T> items, Func<T, string?> name)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        return items.Where(i => name(i) is { } n && seen.Add(n)).ToList();
    }

    private static Cluster WithAbsolutePaths(Cluster cluster, string file)
    {
        if (cluster.ClusterEndpoint is { } endpoint)
        {
            endpoint.CertificateAuthority = Absolute(endpoint.CertificateAuthority, file);
        }

        return cluster;
    }

    private static User WithAbsolutePaths(User user, string file)
    {
        if (user.UserCredentials is { } credentials)
        {
            credentials.ClientCertificate = Absolute(credentials.ClientCertificate, file);
            credentials.ClientKey = Absolute(credentials.ClientKey, file);
        }

        return user;
    }

    private static string? Absolute(string? path, string file) =>
        string.IsNullOrEmpty(path) || Path.IsPathRooted(path) ? path : Path.GetFullPath(path, Path.GetDirectoryName(file)!);
}
