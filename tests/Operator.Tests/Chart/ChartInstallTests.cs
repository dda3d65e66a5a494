using Gentoo.Entities.V1Alpha1;
using System.Text.Json.Nodes;
using Gentoo.Operator.Tests.Integration;
using k8s;
using k8s.Models;

namespace Gentoo.Operator.Tests.Chart;

/// <summary>
/// The chart's rendered manifests sent to the API server as they are: on a real kube-apiserver
/// (GENTOO_TEST_KUBECONFIG, KUBEBUILDER_ASSETS) this is the server's own validation of every object, RBAC
/// escalation checks included.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class ChartInstallTests(TestCluster cluster)
{
    [ToolFact("helm")]
    public async Task The_rendered_chart_is_accepted_by_the_api_server_and_reads_back_as_rendered()
    {
        var ns = await cluster.CreateNamespaceAsync();
        var release = "gb-" + ns; // cluster-scoped names stay unique per test
        var documents = HelmChartTests.RenderRelease(release, "--namespace", ns);
        var kube = cluster.Kube;
        var clusterScoped = new List<(string Kind, string Name)>();
        try
        {
            foreach (var document in documents)
            {
                var json = document.ToJsonString();
                var name = document["metadata"]!["name"]!.GetValue<string>();
                switch (HelmChartTests.Kind(document))
                {
                    case "ServiceAccount":
                        (await kube.CoreV1.CreateNamespacedServiceAccountAsync(KubernetesJson.Deserialize<V1ServiceAccount>(json), ns)).Name().ShouldBe(name);
                        break;
                    case "Service":
                        var service = await kube.CoreV1.CreateNamespacedServiceAsync(KubernetesJson.Deserialize<V1Service>(json), ns);
                        service.Spec.Ports.Select(p => p.Name).ShouldBe(document["spec"]!["ports"]!.AsArray().Select(p => p!["name"]!.GetValue<string>()));
                        break;
                    case "Deployment":
                        var deployment = await kube.AppsV1.CreateNamespacedDeploymentAsync(KubernetesJson.Deserialize<V1Deployment>(json), ns);
                        deployment.Spec.Template.Spec.Containers.Single().Image.ShouldBe(document["spec"]!["template"]!["spec"]!["containers"]![0]!["image"]!.GetValue<string>());
                        break;
                    case "Role":
                        Rules((await kube.RbacAuthorizationV1.CreateNamespacedRoleAsync(KubernetesJson.Deserialize<V1Role>(json), ns)).Rules).ShouldBe(Rules(document));
                        break;
                    case "RoleBinding":
                        (await kube.RbacAuthorizationV1.CreateNamespacedRoleBindingAsync(KubernetesJson.Deserialize<V1RoleBinding>(json), ns)).RoleRef.Name.ShouldBe(document["roleRef"]!["name"]!.GetValue<string>());
                        break;
                    case "ClusterRole":
                        clusterScoped.Add(("ClusterRole", name));
                        Rules((await kube.RbacAuthorizationV1.CreateClusterRoleAsync(KubernetesJson.Deserialize<V1ClusterRole>(json))).Rules).ShouldBe(Rules(document));
                        break;
                    case "ClusterRoleBinding":
                        clusterScoped.Add(("ClusterRoleBinding", name));
                        var binding = await kube.RbacAuthorizationV1.CreateClusterRoleBindingAsync(KubernetesJson.Deserialize<V1ClusterRoleBinding>(json));
                        binding.Subjects.Single().NamespaceProperty.ShouldBe(ns);
                        break;
                    case "CustomResourceDefinition":
                        // Installed on this cluster already, from the same generated files: the chart's is that one.
                        var digest = RequestAnnotations.SchemaDigest;
                        (await kube.ApiextensionsV1.ReadCustomResourceDefinitionAsync(name)).Metadata.Annotations[digest].ShouldBe(document["metadata"]!["annotations"]![digest]!.GetValue<string>());
                        break;
                    case var other:
                        throw new InvalidOperationException($"the chart renders a {other}, which this test does not apply yet");
                }
            }

            documents.Select(HelmChartTests.Kind).Distinct().Count().ShouldBe(8, "every kind of the chart was applied");
        }
        finally
        {
            foreach (var (kind, name) in clusterScoped)
            {
                await (kind == "ClusterRole" ? kube.RbacAuthorizationV1.DeleteClusterRoleAsync(name) : kube.RbacAuthorizationV1.DeleteClusterRoleBindingAsync(name));
            }
        }
    }

    private static List<string> Rules(IEnumerable<V1PolicyRule> rules) =>
        [.. rules.Select(r => $"{string.Join(',', r.ApiGroups ?? [])}|{string.Join(',', r.Resources ?? [])}|{string.Join(',', r.ResourceNames ?? [])}|{string.Join(',', r.Verbs)}")];

    private static List<string> Rules(JsonObject document) =>
        Rules(document["rules"]!.AsArray().Select(rule => KubernetesJson.Deserialize<V1PolicyRule>(rule!.ToJsonString())));
}
