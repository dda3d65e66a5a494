using System.Collections.Concurrent;
using System.Text;
using System.Text.Json.Nodes;
using Gentoo.ApiServer;
using Gentoo.ApiServer.Api;
using k8s;

namespace Gentoo.Kubernetes.TestServer;

/// <summary>
/// The embedded API server in memory, as the tests drive it: fault hooks, a kubelet simulator that runs pods, and pod logs
/// the tests write.
/// </summary>
public sealed class KubeApiServer : IAsyncDisposable
{
    private readonly EmbeddedApiServer server;
    private readonly TestPodLogs logs;

    private KubeApiServer(EmbeddedApiServer server, Faults faults, TestPodLogs logs)
    {
        this.server = server;
        this.logs = logs;
        Faults = faults;
        Kubelet = new KubeletSimulator(this);
    }

    public ObjectStore Store => server.Store;

    public Faults Faults { get; }

    public KubeletSimulator Kubelet { get; }

    public Uri BaseAddress => server.BaseAddress;

    /// <summary>Requests answered so far, by verb (list, watch, get, create, update, patch, delete).</summary>
    public IReadOnlyDictionary<string, long> RequestCounts => server.RequestCounts;

    /// <inheritdoc cref="EmbeddedApiServer.Access"/>
    public IReadOnlyCollection<(string Verb, string Group, string Resource)> Access => server.Access;

    public static async Task<KubeApiServer> StartAsync(EmbeddedApiServerOptions? options = null)
    {
        var logs = new TestPodLogs();
        Faults? faults = null;
        var server = await EmbeddedApiServer.StartAsync((options ?? new EmbeddedApiServerOptions()) with
        {
            Interceptor = new DeferredInterceptor(() => faults!),
            PodLogs = logs,
        });
        faults = new Faults(server.EndWatches);
        logs.Store = server.Store;
        var testServer = new KubeApiServer(server, faults, logs);
        testServer.Kubelet.Start();
        return testServer;
    }

    public KubernetesClientConfiguration ClientConfiguration() => server.ClientConfiguration();

    public async ValueTask DisposeAsync()
    {
        await Kubelet.DisposeAsync();
        await server.DisposeAsync();
    }

    /// <summary>Appends text to a pod's log, which GET .../pods/NAME/log serves (and follows).</summary>
    public void AppendPodLog(string ns, string pod, string text) => logs.Append(ns, pod, text);

    public long Requests(string verb) => server.Requests(verb);

    public void ForgetAccess() => server.ForgetAccess();

    /// <summary>Whether a watch stream whose path contains <paramref name="pathFragment"/> is open now; fault tests wait for one before dropping it.</summary>
    public bool HasOpenWatch(string pathFragment) => server.HasOpenWatch(pathFragment);

    /// <summary>The faults exist only once the server does (they end its watches); requests before that pass.</summary>
    private sealed class DeferredInterceptor(Func<Faults?> faults) : IRequestInterceptor
    {
        public Task<ApiException?> InterceptAsync(string method, string path, CancellationToken ct) =>
            faults() is { } f ? f.InterceptAsync(method, path, ct) : Task.FromResult<ApiException?>(null);
    }

    /// <summary>Pod logs the tests write; one log per pod, whichever container is asked for; followed until the pod ends.</summary>
    private sealed class TestPodLogs : IPodLogSource
    {
        private readonly ConcurrentDictionary<(string Namespace, string Pod), StringBuilder> logs = new();

        public ObjectStore? Store { get; set; }

        public void Append(string ns, string pod, string text)
        {
            var log = logs.GetOrAdd((ns, pod), _ => new StringBuilder());
            lock (log)
            {
                log.Append(text);
            }
        }

        public async Task CopyAsync(JsonObject pod, string container, bool follow, Stream output, CancellationToken ct)
        {
            var key = (ObjectStore.Namespace(pod), pod["metadata"]!["name"]!.GetValue<string>());
            var sent = 0;
            while (true)
            {
                string text;
                var log = logs.GetOrAdd(key, _ => new StringBuilder());
                lock (log)
                {
                    text = log.ToString();
                }

                if (text.Length > sent)
                {
                    await output.WriteAsync(Encoding.UTF8.GetBytes(text[sent..]), ct);
                    await output.FlushAsync(ct);
                    sent = text.Length;
                }

                if (!follow || Terminated(key.Item1, key.Item2))
                {
                    return;
                }

                await Task.Delay(50, ct);
            }
        }

        private bool Terminated(string ns, string name)
        {
            try
            {
                var phase = Store!.Get(Store.FindType("", "v1", "pods")!, ns, name)["status"]?["phase"]?.GetValue<string>();
                return phase is "Succeeded" or "Failed";
            }
            catch (ApiException)
            {
                return true;
            }
        }
    }
}
