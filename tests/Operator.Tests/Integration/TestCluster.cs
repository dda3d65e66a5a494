using System.Runtime.CompilerServices;
using Gentoo.Entities.V1Alpha1;
using Gentoo.Kubernetes.TestServer;
using Gentoo.Kubernetes.TestServer.EnvTest;
using Gentoo.Crds;
using Gentoo.Runtime;
using k8s;
using k8s.Models;
using Microsoft.Extensions.Logging.Abstractions;
using Gentoo.Tests;

namespace Gentoo.Operator.Tests.Integration;

/// <summary>
/// The API server integration tests talk to: a real cluster when GENTOO_TEST_KUBECONFIG names one, else the
/// in-process test server. The generated CRDs are installed through the operator's own installer either way.
/// </summary>
public sealed class TestCluster : IAsyncLifetime
{
    private ControlPlane? controlPlane;

    private static string? Kubeconfig => Environment.GetEnvironmentVariable("GENTOO_TEST_KUBECONFIG") is { Length: > 0 } path ? path : null;

    /// <summary>True against a real kube-apiserver: a cluster (GENTOO_TEST_KUBECONFIG) or envtest binaries (KUBEBUILDER_ASSETS).</summary>
    public static bool IsReal => Kubeconfig is not null || ControlPlane.AssetsFolder is not null;

    /// <summary>True when a controller manager runs (a real cluster, not bare envtest): garbage collection and namespace deletion happen.</summary>
    public static bool HasControllerManager => Kubeconfig is not null || ControlPlane.AssetsFolder is null;

    /// <summary>True against a cluster (GENTOO_TEST_KUBECONFIG): its kubelets run pods; envtest and the test server have none.</summary>
    public static bool HasKubelets => Kubeconfig is not null;

    /// <summary>Pods are driven through the API (<see cref="ApiKubelet"/>) rather than the in-process simulator: always on envtest, on request otherwise.</summary>
    public static bool DrivesPodsThroughApi => ControlPlane.AssetsFolder is not null || Environment.GetEnvironmentVariable("GENTOO_TEST_API_KUBELET") == "1";

    /// <summary>The in-process server, for fault hooks and the kubelet simulator; null against a real cluster.</summary>
    public KubeApiServer? Server { get; private set; }

    public KubernetesClientConfiguration Configuration { get; private set; } = null!;

    public IKubernetes Kube { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        if (Kubeconfig is not null)
        {
            Configuration = KubernetesClientConfiguration.BuildConfigFromConfigFile(Kubeconfig);
        }
        else if (ControlPlane.AssetsFolder is { } assets)
        {
            controlPlane = await ControlPlane.StartAsync(assets);
            Configuration = controlPlane.ClientConfiguration;
        }
        else
        {
            Server = await KubeApiServer.StartAsync();
            Configuration = Server.ClientConfiguration();
        }

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

[CollectionDefinition(Name)]
public sealed class ClusterCollection : ICollectionFixture<TestCluster>
{
    public const string Name = "cluster";
}

/// <summary>A test that needs the in-process server's fault hooks; skipped, saying why, against a real cluster.</summary>
public sealed class TestServerFactAttribute : SkippableFactAttribute
{
    public TestServerFactAttribute([CallerMemberName] string test = "") : base(test)
    {
        if (TestCluster.IsReal)
        {
            SkipBecause("injects faults (dropped watches, compaction, failing requests) that only the in-process API server offers");
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
