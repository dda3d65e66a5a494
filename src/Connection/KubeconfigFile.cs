using System.Text;
using k8s;
using k8s.Exceptions;
using k8s.KubeConfigModels;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Gentoo.Connection;

/// <summary>The kubeconfig kubectl would use, read into a client configuration.</summary>
public static class KubeconfigFile
{
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
    /// <remarks>A user with an exec credential plugin runs it now (<see cref="ExecCredentialPlugin"/>), and again whenever its token expires.</remarks>
    /// <exception cref="KubeConfigException">A file is not a kubeconfig, the merge has no usable context, cluster or user, or the user's credential plugin fails.</exception>
    /// <exception cref="IOException">A file cannot be read.</exception>
    public static KubernetesClientConfiguration Load(IReadOnlyList<string> paths, string? context, TimeProvider clock)
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
        var plugin = RunExecPlugin(merged, context, clock);
        var configuration = KubernetesClientConfiguration.BuildConfigFromConfigObject(merged, context);
        if (plugin is not null)
        {
            configuration.TokenProvider = plugin;
        }

        return configuration;
    }

    // The chosen user's exec plugin, run before the client sees the user (the client would run it its own way): its
    // answer becomes the user's token or client certificate, and the plugin the token's provider from then on.
    private static ExecCredentialPlugin? RunExecPlugin(K8SConfiguration config, string? context, TimeProvider clock)
    {
        var chosen = config.Contexts.FirstOrDefault(c => c.Name == (context ?? config.CurrentContext))?.ContextDetails;
        var user = config.Users.FirstOrDefault(u => u.Name == chosen?.User)?.UserCredentials;
        if (user?.ExternalExecution is not { } exec)
        {
            return null;
        }

        var plugin = new ExecCredentialPlugin(exec, config.Clusters.FirstOrDefault(c => c.Name == chosen?.Cluster)?.ClusterEndpoint, clock);
        var credential = plugin.Run();
        user.ExternalExecution = null;
        user.Token = credential.Token;
        // The client reads certificate data as the base64 a kubeconfig holds; a plugin answers PEM text.
        user.ClientCertificateData = credential.ClientCertificateData is { } certificate ? Convert.ToBase64String(Encoding.ASCII.GetBytes(certificate)) : user.ClientCertificateData;
        user.ClientKeyData = credential.ClientKeyData is { } key ? Convert.ToBase64String(Encoding.ASCII.GetBytes(key)) : user.ClientKeyData;
        return credential.Token is null ? null : plugin;
    }

    private static K8SConfiguration Read(string path)
    {
        K8SConfiguration parsed;
        try
        {
            // The YAML's node tree, read into the kubeconfig's types by hand: KubernetesClient's loader first builds a
            // reflecting YAML reader for every Kubernetes type (a third of a second of every start), and a reflecting
            // reader of any kind cannot be compiled ahead of time (the plugin is, with Native AOT).
            var stream = new YamlStream();
            using (var reader = File.OpenText(path))
            {
                stream.Load(reader);
            }

            parsed = stream.Documents.Count == 0 || stream.Documents[0].RootNode is YamlScalarNode { Value: null or "" or "~" or "null" }
                ? throw new KubeConfigException("the file is empty")
                : KubeconfigYaml.Configuration(stream.Documents[0].RootNode);
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
