using Gentoo.Kubernetes.TestServer;
using Gentoo.Kubernetes.TestServer.EnvTest;
using k8s;

namespace Gentoo.Bench.Operator;

/// <summary>
/// The API server the benchmark runs on, picked as the integration tests pick theirs: a cluster when
/// GENTOO_TEST_KUBECONFIG names one, else a kube-apiserver and etcd from KUBEBUILDER_ASSETS (envtest), else the
/// in-process server. The operator, a process of its own, reaches it through a kubeconfig file.
/// </summary>
public sealed class BenchCluster : IAsyncDisposable
{
    private readonly ControlPlane? controlPlane;

    private BenchCluster(string description, KubernetesClientConfiguration configuration, string operatorKubeconfig, KubeApiServer? server, ControlPlane? controlPlane)
    {
        Description = description;
        Configuration = configuration;
        OperatorKubeconfig = operatorKubeconfig;
        Server = server;
        this.controlPlane = controlPlane;
    }

    /// <summary>What the figures were measured against, for the table's heading.</summary>
    public string Description { get; }

    public KubernetesClientConfiguration Configuration { get; }

    /// <summary>The kubeconfig file the operator is started with.</summary>
    public string OperatorKubeconfig { get; }

    /// <summary>The in-process server (its change feed, request counts and kubelet simulator); null on a real API server.</summary>
    public KubeApiServer? Server { get; }

    /// <summary>
    /// Pods are scheduled and run by <see cref="ApiKubelet"/> through the API: on a real API server (envtest has no
    /// scheduler or kubelet; a cluster's own must not run the benchmark's pods), or with GENTOO_TEST_API_KUBELET=1 on
    /// the in-process one, which takes that path on this machine.
    /// </summary>
    public bool DrivesPodsThroughApi => Server is null || Environment.GetEnvironmentVariable("GENTOO_TEST_API_KUBELET") == "1";

    /// <summary>Whether a controller manager (garbage collector, namespace controller) runs: not on bare envtest.</summary>
    public bool HasControllerManager => controlPlane is null;

    public static async Task<BenchCluster> StartAsync()
    {
        if (Environment.GetEnvironmentVariable("GENTOO_TEST_KUBECONFIG") is { Length: > 0 } kubeconfig)
        {
            return new BenchCluster($"the cluster of GENTOO_TEST_KUBECONFIG ({kubeconfig})", KubernetesClientConfiguration.BuildConfigFromConfigFile(kubeconfig), kubeconfig, null, null);
        }

        if (ControlPlane.AssetsFolder is { } assets)
        {
            var plane = await ControlPlane.StartAsync(assets);
            return new BenchCluster($"kube-apiserver and etcd of KUBEBUILDER_ASSETS ({assets})", plane.ClientConfiguration, plane.WriteKubeconfig(), null, plane);
        }

        var server = await KubeApiServer.StartAsync();
        return new BenchCluster("in-process API server", server.ClientConfiguration(), OperatorProcess.WriteKubeconfig(server.BaseAddress.ToString().TrimEnd('/')), server, null);
    }

    public async ValueTask DisposeAsync()
    {
        if (Server is not null)
        {
            await Server.DisposeAsync();
        }

        if (controlPlane is not null)
        {
            await controlPlane.DisposeAsync();
        }
    }
}
