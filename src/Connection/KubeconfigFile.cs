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
    /// else KUBECONFIG) lists, else ~/.kube/config. The first of them that exists holds the context.
    /// </summary>
    public static string[] Candidates(string? explicitPaths)
    {
        var paths = string.IsNullOrWhiteSpace(explicitPaths) ? Environment.GetEnvironmentVariable("KUBECONFIG") : explicitPaths;
        return string.IsNullOrWhiteSpace(paths)
            ? [Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".kube", "config")]
            : paths.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries);
    }

    /// <summary>The client configuration of the kubeconfig at <paramref name="path"/>, at its current context or <paramref name="context"/>.</summary>
    /// <exception cref="KubeConfigException">The file is not a usable kubeconfig (its YAML, the context, the cluster or user it names).</exception>
    /// <exception cref="IOException">The file cannot be read.</exception>
    public static KubernetesClientConfiguration Load(string path, string? context)
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

        parsed.FileName = Path.GetFullPath(path); // certificate and key paths are relative to it
        return KubernetesClientConfiguration.BuildConfigFromConfigObject(parsed, context);
    }
}
