using Gentoo.Kubernetes.TestServer.EnvTest;
using k8s;

namespace Gentoo.Kubernetes.TestServer;

/// <summary>Where the integration tests and the operator benchmark send their requests.</summary>
public enum ApiServerKind
{
    /// <summary>This project's in-process server: fault hooks, a kubelet simulator, request counts.</summary>
    InProcess,

    /// <summary>etcd and kube-apiserver from KUBEBUILDER_ASSETS: no scheduler, kubelet or controller manager.</summary>
    EnvTest,

    /// <summary>The cluster GENTOO_TEST_KUBECONFIG names: its own kubelets and controller manager.</summary>
    Cluster,
}

/// <summary>
/// The API server a test run or benchmark talks to, picked from the environment the same way for both: a cluster
/// when GENTOO_TEST_KUBECONFIG names one, else etcd and kube-apiserver from KUBEBUILDER_ASSETS (envtest), else the
/// in-process server. Another process (the operator as shipped, the plugin) reaches it through
/// <see cref="Kubeconfig"/>.
/// </summary>
public sealed class ApiServerUnderTest : IAsyncDisposable
{
    private readonly ControlPlane? controlPlane;

    private ApiServerUnderTest(KubernetesClientConfiguration configuration, string kubeconfig, KubeApiServer? server, ControlPlane? controlPlane)
    {
        Configuration = configuration;
        Kubeconfig = kubeconfig;
        Server = server;
        this.controlPlane = controlPlane;
    }

    private static string? ClusterKubeconfig => Environment.GetEnvironmentVariable("GENTOO_TEST_KUBECONFIG") is { Length: > 0 } path ? path : null;

    /// <summary>The kind the environment asks for; read before starting, so a test can say why it skips.</summary>
    public static ApiServerKind Kind =>
        ClusterKubeconfig is not null ? ApiServerKind.Cluster
        : ControlPlane.AssetsFolder is not null ? ApiServerKind.EnvTest
        : ApiServerKind.InProcess;

    /// <summary>GENTOO_TEST_API_KUBELET=1: pods are played through the API (<see cref="ApiKubelet"/>) on the in-process server too.</summary>
    public static bool ApiKubeletRequested => Environment.GetEnvironmentVariable("GENTOO_TEST_API_KUBELET") == "1";

    /// <summary>Whether a controller manager runs (garbage collector, namespace controller): not on bare envtest.</summary>
    public static bool HasControllerManager => Kind != ApiServerKind.EnvTest;

    /// <summary>What the requests went to, for a benchmark's heading or a test's message.</summary>
    public static string Description => Kind switch
    {
        ApiServerKind.Cluster => $"the cluster of GENTOO_TEST_KUBECONFIG ({ClusterKubeconfig})",
        ApiServerKind.EnvTest => $"kube-apiserver and etcd of KUBEBUILDER_ASSETS ({ControlPlane.AssetsFolder})",
        _ => "in-process API server",
    };

    public KubernetesClientConfiguration Configuration { get; }

    /// <summary>A kubeconfig file for another process: the cluster's own, envtest's admin, or one for the in-process server.</summary>
    public string Kubeconfig { get; }

    /// <summary>The in-process server (change feed, fault hooks, kubelet simulator); null on a real API server.</summary>
    public KubeApiServer? Server { get; }

    public static async Task<ApiServerUnderTest> StartAsync()
    {
        switch (Kind)
        {
            case ApiServerKind.Cluster:
                var kubeconfig = ClusterKubeconfig!;
                return new ApiServerUnderTest(KubernetesClientConfiguration.BuildConfigFromConfigFile(kubeconfig), kubeconfig, null, null);
            case ApiServerKind.EnvTest:
                var plane = await ControlPlane.StartAsync(ControlPlane.AssetsFolder!);
                return new ApiServerUnderTest(plane.ClientConfiguration, plane.WriteKubeconfig(), null, plane);
            default:
                var server = await KubeApiServer.StartAsync();
                return new ApiServerUnderTest(server.ClientConfiguration(), OperatorProcess.WriteKubeconfig(server.BaseAddress.ToString().TrimEnd('/')), server, null);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Server is not null)
        {
            await Server.DisposeAsync();
            Directory.Delete(Path.GetDirectoryName(Kubeconfig)!, recursive: true); // written for it in a folder of its own
        }

        if (controlPlane is not null)
        {
            await controlPlane.DisposeAsync();
        }
    }
}
