using System.Net;
using System.Net.Sockets;
using Gentoo.Kubernetes.TestServer;
using Gentoo.Operator.Crds;
using Gentoo.Operator.Runtime;
using Gentoo.Entities.V1Alpha1;
using Gentoo.Kubernetes.TestServer.Yaml;
using k8s;
using k8s.Models;

namespace Gentoo.Operator.Tests.Hosting;

public sealed class OperatorProcessIntegrationTests
{
    [Fact]
    public async Task Operator_installs_crds_becomes_ready_serves_metrics_and_stops_cleanly_on_sigterm()
    {
        await using var server = await KubeApiServer.StartAsync();
        var kubeconfig = OperatorProcess.WriteKubeconfig(server.BaseAddress.ToString().TrimEnd('/'));
        var port = FreePort();
        using var process = OperatorProcess.Start(["--kubeconfig", kubeconfig, "--install-crds",
            "--leader-elect", "false", "--health-port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind-address", "127.0.0.1"]);
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
        try
        {
            var ready = await Integration.Eventually.GetAsync(async () =>
            {
                try
                {
                    return (await http.GetAsync("/readyz")).StatusCode;
                }
                catch (HttpRequestException)
                {
                    return HttpStatusCode.ServiceUnavailable;
                }
            }, status => status == HttpStatusCode.OK || process.HasExited, "the operator to become ready", TimeSpan.FromSeconds(30));
            ready.ShouldBe(HttpStatusCode.OK, await process.DescribeAsync());

            using var kube = new k8s.Kubernetes(server.ClientConfiguration());
            foreach (var name in CrdInstaller.CrdNames())
            {
                (await kube.ApiextensionsV1.ReadCustomResourceDefinitionAsync(name)).Status.Conditions.ShouldContain(c => c.Type == "Established" && c.Status == "True");
            }

            (await http.GetAsync("/healthz")).StatusCode.ShouldBe(HttpStatusCode.OK);
            (await http.GetStringAsync("/metrics")).ShouldContain("gentoo_operator_leader 1");
        }
        finally
        {
            await process.TerminateAsync();
        }

        process.Process.ExitCode.ShouldBe(0, await process.StandardError);
        (await process.StandardOutput + await process.StandardError).ShouldContain("Shutting down");
    }

    [Fact]
    public async Task Operator_running_a_build_uses_only_what_its_cluster_role_grants()
    {
        await using var server = await KubeApiServer.StartAsync();
        using var kube = new k8s.Kubernetes(server.ClientConfiguration());
        await new CrdInstaller(kube, Microsoft.Extensions.Logging.Abstractions.NullLogger<CrdInstaller>.Instance).InstallAsync(CancellationToken.None);
        var ns = (await kube.CoreV1.CreateNamespaceAsync(new V1Namespace { Metadata = new V1ObjectMeta { Name = "gentoo-builder" } })).Name();
        server.Kubelet.AddNode("node-1", "6.6.30-gentoo");
        server.Kubelet.Script = _ => new PodScript(0, """{"step":"build","result":"succeeded","outcome":"success","emergeExitCode":0,"packagesMerged":1}""");
        var builders = new ResourceApi<GentooBuilder>(kube);
        var builder = await builders.CreateAsync(new GentooBuilder
        {
            Metadata = new V1ObjectMeta { Name = "desktop", NamespaceProperty = ns },
            Spec = new GentooBuilderSpec { BootstrapRef = new LocalReference { Name = "stage3" } },
        }, CancellationToken.None);
        builder.Status = new GentooBuilderStatus { Conditions = Conditions.MarkTrue(null, ConditionTypes.Ready, "Ready", "ready", 1, DateTime.UtcNow) };
        await builders.ReplaceStatusAsync(builder, CancellationToken.None);
        var runs = new ResourceApi<BuildRun>(kube);
        await runs.CreateAsync(new BuildRun
        {
            Metadata = new V1ObjectMeta { Name = "firefox", NamespaceProperty = ns },
            Spec = new BuildRunSpec { BuilderRef = new LocalReference { Name = "desktop" }, Packages = ["www-client/firefox"] },
        }, CancellationToken.None);
        server.ForgetAccess();

        var kubeconfig = OperatorProcess.WriteKubeconfig(server.BaseAddress.ToString().TrimEnd('/'));
        using var process = OperatorProcess.Start(["--kubeconfig", kubeconfig, "--leader-election-namespace", ns,
            "--health-port", FreePort().ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind-address", "127.0.0.1"]);
        try
        {
            await Integration.Eventually.GetAsync(async () => await runs.GetAsync(ns, "firefox", CancellationToken.None),
                r => r?.Status.Phase == "Succeeded" || process.HasExited, "the operator to run the build to success", TimeSpan.FromSeconds(40));
            process.HasExited.ShouldBeFalse(await process.DescribeAsync());
            await Integration.Eventually.GetAsync(() => kube.CoreV1.ReadNodeAsync("node-1"),
                n => n.Metadata.Labels?.ContainsKey(Gentoo.Operator.Desired.NodeKernel.CodeLabel) == true, "the node to be labelled");
        }
        finally
        {
            await process.TerminateAsync();
            server.Kubelet.Script = null;
        }

        var rules = YamlJson.ReadDocuments(File.ReadAllText(Checkout.PathOf("config", "rbac", "role.yaml"))).Single()["rules"]!.AsArray();
        bool Grants(string verb, string group, string resource) => rules.Any(rule =>
            Has(rule!["apiGroups"], group) && Has(rule["resources"], resource) && Has(rule["verbs"], verb));
        var denied = server.Access.Where(a => !Grants(a.Verb, a.Group, a.Resource)).Select(a => a.Group.Length == 0 ? $"{a.Verb} {a.Resource}" : $"{a.Verb} {a.Resource}.{a.Group}").Order().ToList();
        server.Access.ShouldContain(a => a.Verb == "create" && a.Resource == "pods", "the operator created the build pod");
        denied.ShouldBeEmpty("config/rbac/role.yaml lacks what the operator used");
    }

    private static bool Has(System.Text.Json.Nodes.JsonNode? list, string value) =>
        list!.AsArray().Any(item => item!.GetValue<string>() is var v && (v == value || v == "*"));

    [Fact]
    public async Task Cluster_without_the_snapshot_api_is_detected()
    {
        await using var without = await KubeApiServer.StartAsync(new KubeApiServerOptions { VolumeSnapshots = false });
        await using var with = await KubeApiServer.StartAsync();
        using var kubeWithout = new k8s.Kubernetes(without.ClientConfiguration());
        using var kubeWith = new k8s.Kubernetes(with.ClientConfiguration());

        (await ApiDiscovery.ServesAsync(kubeWithout, ApiDiscovery.SnapshotGroup, "v1", CancellationToken.None)).ShouldBeFalse();
        (await ApiDiscovery.ServesAsync(kubeWith, ApiDiscovery.SnapshotGroup, "v1", CancellationToken.None)).ShouldBeTrue();
    }

    private static int FreePort()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }
}
