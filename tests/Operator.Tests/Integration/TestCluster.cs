using System.Runtime.CompilerServices;
using Gentoo.Entities.V1Alpha1;
using Gentoo.Kubernetes.TestServer;
using Gentoo.Crds;
using Gentoo.Runtime;
using k8s;
using k8s.Models;
using Microsoft.Extensions.Logging.Abstractions;
using Gentoo.Tests;

namespace Gentoo.Operator.Tests.Integration;

/// <summary>
/// The API server integration tests talk to, picked by <see cref="ApiServerUnderTest"/> (a cluster, envtest or the
/// in-process server). The generated CRDs are installed through the operator's own installer either way.
/// </summary>
public sealed class TestCluster : IAsyncLifetime
{
    private ApiServerUnderTest apiServer = null!;

    /// <summary>True against a real kube-apiserver: a cluster (GENTOO_TEST_KUBECONFIG) or envtest binaries (KUBEBUILDER_ASSETS).</summary>
    public static bool IsReal => ApiServerUnderTest.Kind != ApiServerKind.InProcess;

    /// <summary>True when a controller manager runs (a real cluster, not bare envtest): garbage collection and namespace deletion happen.</summary>
    public static bool HasControllerManager => ApiServerUnderTest.HasControllerManager;

    /// <summary>True against a cluster (GENTOO_TEST_KUBECONFIG): its kubelets run pods; envtest and the test server have none.</summary>
    public static bool HasKubelets => ApiServerUnderTest.Kind == ApiServerKind.Cluster;

    /// <summary>Pods are driven through the API (<see cref="ApiKubelet"/>) rather than the in-process simulator: always on envtest, on request otherwise.</summary>
    public static bool DrivesPodsThroughApi => ApiServerUnderTest.Kind == ApiServerKind.EnvTest || ApiServerUnderTest.ApiKubeletRequested;

    /// <summary>The in-process server, for fault hooks and the kubelet simulator; null against a real cluster.</summary>
    public KubeApiServer? Server => apiServer.Server;

    public KubernetesClientConfiguration Configuration => apiServer.Configuration;

    /// <summary>A kubeconfig file for the server, for what runs as its own program (the plugin, the operator as shipped).</summary>
    public string Kubeconfig => apiServer.Kubeconfig;

    public IKubernetes Kube { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        apiServer = await ApiServerUnderTest.StartAsync();
        Kube = NewClient();
        await new CrdInstaller(Kube, NullLogger<CrdInstaller>.Instance).InstallAsync(CancellationToken.None);
    }

    public IKubernetes NewClient() => new k8s.Kubernetes(Configuration);

    /// <summary>A fresh namespace: one per test, so tests never see each other's objects.</summary>
    public async Task<string> CreateNamespaceAsync()
    {
        var ns = await Kube.CoreV1.CreateNamespaceAsync(new V1Namespace { Metadata = new V1ObjectMeta { GenerateName = "gentoo-test-" } });
        return ns.Metadata.Name;
    }

    public static BuildRun NewBuildRun(string ns, string name) => new()
    {
        Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = ns },
        Spec = new BuildRunSpec { BuilderRef = new LocalReference { Name = "plasma-desktop" }, Packages = ["www-client/firefox"] },
    };

    public async Task DisposeAsync()
    {
        Kube.Dispose();
        await apiServer.DisposeAsync();
    }
}

[CollectionDefinition(Name)]
public sealed class ClusterCollection : ICollectionFixture<TestCluster>
{
    public const string Name = "cluster";
}

/// <summary>
/// A test that needs what only the in-process server offers; skipped against a real API server, saying what it needs
/// (<paramref name="needs"/>: by default its fault hooks, snapshot API or kubelet simulator).
/// </summary>
public sealed class TestServerFactAttribute : SkippableFactAttribute
{
    public TestServerFactAttribute(string? needs = null, [CallerMemberName] string test = "") : base(test)
    {
        if (TestCluster.IsReal)
        {
            SkipBecause($"needs {needs ?? "the in-process API server's fault hooks (dropped watches, compaction, failing requests), snapshot API or kubelet simulator (scheduling by affinity, logs, exec, slow stops)"}, which a real API server does not offer");
        }
    }
}

/// <summary>
/// A test that plays scheduler and kubelet for its pods (the in-process simulator, or <see cref="ApiKubelet"/> through the
/// API on envtest); skipped against a real cluster, whose own kubelets would really run the Gentoo pods.
/// </summary>
public sealed class PodDrivingFactAttribute : SkippableFactAttribute
{
    public PodDrivingFactAttribute([CallerMemberName] string test = "") : base(test)
    {
        if (TestCluster.HasKubelets)
        {
            SkipBecause("drives its pods itself; a cluster with kubelets (GENTOO_TEST_KUBECONFIG) would run the Gentoo images for real: use envtest (KUBEBUILDER_ASSETS)");
        }
    }
}

/// <summary>A test that needs garbage collection; skipped on bare envtest, which runs no controller manager.</summary>
public sealed class GarbageCollectorFactAttribute : SkippableFactAttribute
{
    public GarbageCollectorFactAttribute([CallerMemberName] string test = "") : base(test)
    {
        if (!TestCluster.HasControllerManager)
        {
            SkipBecause("needs the garbage collector of kube-controller-manager, which envtest (KUBEBUILDER_ASSETS) does not run");
        }
    }
}

/// <summary>What kubectl annotate does: a merge patch of the annotations, which never conflicts with the operator's writes.</summary>
public static class Requests
{
    public static Task AnnotateAsync<T>(ResourceApi<T> api, string ns, string name, IDictionary<string, string> annotations)
        where T : class, k8s.IKubernetesObject<V1ObjectMeta> =>
        api.PatchAsync(ns, name, TestPatches.Merge(new { metadata = new { annotations } }), CancellationToken.None);
}
