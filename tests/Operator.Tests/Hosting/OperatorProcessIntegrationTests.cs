using System.Net;
using System.Net.Sockets;
using Gentoo.Kubernetes.TestServer;
using Gentoo.Crds;
using Gentoo.Runtime;
using Gentoo.Entities.V1Alpha1;
using Gentoo.ApiServer.Yaml;
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
        var port = OperatorProcess.FreePort();
        using var process = OperatorProcess.Start(["--kubeconfig", kubeconfig, "--install-crds",
            "--leader-elect", "false", "--health-port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind-address", "127.0.0.1"]);
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
        try
        {
            var ready = await Eventually.GetAsync(async () =>
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
            var metrics = await http.GetStringAsync("/metrics");
            metrics.ShouldContain("gentoo_operator_leader 1");
            // The process's own figures beside ours, as a Go operator serves Go's: its memory, the GC heap, CPU.
            metrics.Split('\n').ShouldContain(line => line.StartsWith("process_working_set_bytes ", StringComparison.Ordinal));
            metrics.Split('\n').ShouldContain(line => line.StartsWith("dotnet_total_memory_bytes ", StringComparison.Ordinal));
            metrics.Split('\n').ShouldContain(line => line.StartsWith("process_cpu_seconds_total ", StringComparison.Ordinal));
        }
        finally
        {
            await process.TerminateAsync();
        }

        process.Process.ExitCode.ShouldBe(0, await process.StandardError);
        (await process.StandardOutput + await process.StandardError).ShouldContain("Shutting down");
    }

    [Fact]
    public async Task The_samples_applied_to_a_cluster_bootstrap_build_and_succeed_using_only_what_the_cluster_role_grants()
    {
        await using var server = await KubeApiServer.StartAsync();
        using var kube = new k8s.Kubernetes(server.ClientConfiguration());
        await new CrdInstaller(kube, Microsoft.Extensions.Logging.Abstractions.NullLogger<CrdInstaller>.Instance).InstallAsync(CancellationToken.None);
        var ns = (await kube.CoreV1.CreateNamespaceAsync(new V1Namespace { Metadata = new V1ObjectMeta { Name = "gentoo-builder" } })).Name();
        server.Kubelet.AddNode("node-1", "6.6.30-gentoo", new Dictionary<string, string> { ["kubernetes.io/arch"] = "amd64" });
        // Every pod does what the agent would report on success; the copy pod just exits 0.
        server.Kubelet.Script = _ => new PodScript(0, """{"step":"build","result":"success","outcome":"success","emergeExitCode":0,"packagesMerged":1}""");
        foreach (var file in new[] { "configmap", "gentoobootstrap", "gentoobuilder", "buildrun" })
        {
            await SampleManifests.ApplyAsync(kube, ns, Checkout.PathOf("config", "samples", $"gentoobuilder_v1alpha1_{file}.yaml"));
        }

        server.ForgetAccess();
        var kubeconfig = OperatorProcess.WriteKubeconfig(server.BaseAddress.ToString().TrimEnd('/'));
        using var process = OperatorProcess.Start(["--kubeconfig", kubeconfig, "--leader-election-namespace", ns,
            "--health-port", OperatorProcess.FreePort().ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind-address", "127.0.0.1"]);
        var runs = new ResourceApi<BuildRun>(kube);
        try
        {
            BuildRun? run;
            try
            {
                run = await Eventually.GetAsync(async () => await runs.GetAsync(ns, "firefox", CancellationToken.None),
                    r => r?.Status.Phase == BuildRunPhase.Succeeded || process.HasExited, "the operator to bootstrap, make the builder and run the build", TimeSpan.FromSeconds(60));
            }
            catch (TimeoutException e)
            {
                var bootstraps = await new ResourceApi<GentooBootstrap>(kube).ListAsync(ns, CancellationToken.None);
                var builders = await new ResourceApi<GentooBuilder>(kube).ListAsync(ns, CancellationToken.None);
                var pods = await kube.CoreV1.ListNamespacedPodAsync(ns);
                throw new TimeoutException(string.Join("\n", e.Message, string.Join("\n", bootstraps.Items.Select(b => KubernetesJson.Serialize(b.Status))),
                    string.Join("\n", builders.Items.Select(b => KubernetesJson.Serialize(b.Status))), string.Join(", ", pods.Items.Select(p => $"{p.Metadata.Name}: {p.Status?.Phase}")),
                    await process.DescribeAsync()));
            }

            process.HasExited.ShouldBeFalse(await process.DescribeAsync());
            var bootstrap = (await new ResourceApi<GentooBootstrap>(kube).GetAsync(ns, "plasma-desktop", CancellationToken.None))!;
            bootstrap.Status.Snapshot!.Method.ShouldBe("PvcCopy", "the test server has no VolumeSnapshotClass for its storage");
            var builder = (await new ResourceApi<GentooBuilder>(kube).GetAsync(ns, "plasma-desktop", CancellationToken.None))!;
            Conditions.IsTrue(builder.Status.Conditions, ConditionTypes.Ready).ShouldBeTrue();
            var pod = await kube.CoreV1.ReadNamespacedPodAsync(run!.Status.Attempts![0].Pod, ns);
            // The builder's root volume holds the system: its build pod is the operator image's agent alone, no stage3 on the node.
            pod.Spec.Containers.Single().Image.ShouldBe(new Gentoo.Operator.Hosting.OperatorOptions().OperatorImage);
            pod.Spec.InitContainers.ShouldBeEmpty();
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
        server.Access.ShouldContain(a => a.Verb == "create" && a.Resource == "pods", "the operator created the pods");
        denied.ShouldBeEmpty("config/rbac/role.yaml lacks what the operator used");
    }

    private static bool Has(System.Text.Json.Nodes.JsonNode? list, string value) =>
        list!.AsArray().Any(item => item!.GetValue<string>() is var v && (v == value || v == "*"));

    [Fact]
    public async Task Cluster_without_the_snapshot_api_is_detected()
    {
        await using var without = await KubeApiServer.StartAsync(new EmbeddedApiServerOptions { VolumeSnapshots = false });
        await using var with = await KubeApiServer.StartAsync();
        using var kubeWithout = new k8s.Kubernetes(without.ClientConfiguration());
        using var kubeWith = new k8s.Kubernetes(with.ClientConfiguration());

        (await ApiDiscovery.ServesAsync(kubeWithout, ApiDiscovery.SnapshotGroup, "v1", CancellationToken.None)).ShouldBeFalse();
        (await ApiDiscovery.ServesAsync(kubeWith, ApiDiscovery.SnapshotGroup, "v1", CancellationToken.None)).ShouldBeTrue();
    }
}
