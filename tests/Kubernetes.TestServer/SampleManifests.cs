using Gentoo.ApiServer.Yaml;
using k8s;
using k8s.Models;

namespace Gentoo.Kubernetes.TestServer;

/// <summary>What `kubectl apply -n NS -f FILE` does with the samples: creates each document in the namespace.</summary>
public static class SampleManifests
{
    public static async Task ApplyAsync(IKubernetes kube, string ns, string path)
    {
        foreach (var document in YamlJson.ReadDocuments(await File.ReadAllTextAsync(path)))
        {
            var apiVersion = document["apiVersion"]!.GetValue<string>();
            var kind = document["kind"]!.GetValue<string>();
            document["metadata"]!["namespace"] = ns;
            if (apiVersion == "v1" && kind == "ConfigMap")
            {
                await kube.CoreV1.CreateNamespacedConfigMapAsync(KubernetesJson.Deserialize<V1ConfigMap>(document.ToJsonString()), ns);
                continue;
            }

            var (group, version) = (apiVersion.Split('/')[0], apiVersion.Split('/')[1]);
            await kube.CustomObjects.CreateNamespacedCustomObjectAsync(document, group, version, ns, kind.ToLowerInvariant() + "s");
        }
    }
}
