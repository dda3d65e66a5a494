// Controller runtime benchmark: 1,000 BuildRuns against the in-process API server.
// Prints the time until every BuildRun was reconciled once, API requests per reconcile, the requests the
// runtime makes at steady state (there must be no list or poll traffic), and peak memory.
// The API server runs in a child process, so the memory figures are the operator runtime's own.
// Run: dotnet run -c Release --project bench/RuntimeBench [-- COUNT]
using System.Diagnostics;
using System.Text.Json;
using System.Globalization;
using Gentoo.Entities.V1Alpha1;
using Gentoo.Kubernetes.TestServer;
using Gentoo.Crds;
using Gentoo.Operator.Hosting;
using Gentoo.Runtime;
using k8s;
using k8s.Models;
using Microsoft.Extensions.Logging.Abstractions;
using Prometheus;

if (args is ["serve"])
{
    await using var served = await KubeApiServer.StartAsync();
    Console.WriteLine(served.BaseAddress);
    await Console.In.ReadToEndAsync();
    return 0;
}

if (args is ["--help"] or ["-h"] || args.Length > 1 || (args.Length == 1 && !int.TryParse(args[0], NumberStyles.None, CultureInfo.InvariantCulture, out _)))
{
    Console.WriteLine("usage: dotnet run -c Release --project bench/RuntimeBench [-- COUNT]");
    Console.WriteLine("  COUNT  how many BuildRuns to create and reconcile (default 1000)");
    return args is ["--help"] or ["-h"] ? 0 : 2;
}

var count = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 1000;
var serverStart = new ProcessStartInfo("dotnet") { RedirectStandardInput = true, RedirectStandardOutput = true };
serverStart.ArgumentList.Add(typeof(BenchReconciler).Assembly.Location);
serverStart.ArgumentList.Add("serve");
using var serverProcess = Process.Start(serverStart)!;
var address = new Uri((await serverProcess.StandardOutput.ReadLineAsync())!);
using var http = new HttpClient { BaseAddress = address };
using var kube = new Kubernetes(new KubernetesClientConfiguration { Host = address.ToString().TrimEnd('/') });
await new CrdInstaller(kube, NullLogger<CrdInstaller>.Instance).InstallAsync(CancellationToken.None);
await kube.CoreV1.CreateNamespaceAsync(new V1Namespace { Metadata = new V1ObjectMeta { Name = "bench" } });
var api = new ResourceApi<BuildRun>(kube);

Console.WriteLine($"Creating {count} BuildRuns...");
await Parallel.ForAsync(0, count, new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (i, ct) =>
    await api.CreateAsync(new BuildRun
    {
        Metadata = new V1ObjectMeta { Name = $"run-{i:D4}", NamespaceProperty = "bench" },
        Spec = new BuildRunSpec { BuilderRef = new LocalReference { Name = "plasma-desktop" } },
    }, ct));

// The reconciler does what a real one does per object: read from the cache, write status once.
var reconciled = new System.Collections.Concurrent.ConcurrentDictionary<string, byte>();
var writer = new StatusWriter<BuildRun, BuildRunStatus>(api);
var metrics = new OperatorMetrics(Metrics.NewCustomRegistry());
var informer = new Informer<BuildRun>(api, "bench", metrics, NullLogger.Instance);
var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
var reconciler = new BenchReconciler(informer, writer, reconciled, count, done);
using var controller = new Controller<BuildRun>(informer, () => reconciler, new ControllerOptions { Workers = 8 }, metrics, TimeProvider.System, NullLogger.Instance);
var manager = new ControllerManager(kube, new LeaderElectionSettings { Enabled = false, Namespace = "bench" }, metrics, NullLogger<ControllerManager>.Instance);
manager.AddInformer(informer);
manager.AddRunnable(controller);

GC.Collect();
var requestsBefore = await Snapshot(http);
var clock = Stopwatch.StartNew();
using var stopping = new CancellationTokenSource();
await manager.StartAsync(stopping.Token);
await done.Task.WaitAsync(TimeSpan.FromMinutes(5));
var elapsed = clock.Elapsed;
var requestsDuring = Diff(await Snapshot(http), requestsBefore);

// Steady state: nothing changes, so the runtime must send nothing but its open watch.
await Task.Delay(TimeSpan.FromSeconds(1));
var steadyBefore = await Snapshot(http);
await Task.Delay(TimeSpan.FromSeconds(5));
var steady = Diff(await Snapshot(http), steadyBefore);

await stopping.CancelAsync();
await manager.StopAsync(CancellationToken.None);
serverProcess.StandardInput.Close();
await serverProcess.WaitForExitAsync();

var total = requestsDuring.Values.Sum();
Console.WriteLine();
Console.WriteLine($"BuildRuns reconciled once:        {reconciled.Count} in {elapsed.TotalSeconds:F2} s (target < 5 s)");
Console.WriteLine($"API requests while reconciling:   {total} ({string.Join(", ", requestsDuring.Where(p => p.Value > 0).Select(p => $"{p.Key} {p.Value}"))})");
Console.WriteLine($"API requests per reconcile:       {(double)total / count:F2}");
Console.WriteLine($"Requests in 5 s of steady state:  {steady.Values.Sum()} ({(steady.Values.Sum() == 0 ? "no list or poll traffic" : string.Join(", ", steady.Where(p => p.Value > 0).Select(p => $"{p.Key} {p.Value}")))})");
Console.WriteLine($"Peak working set:                 {Process.GetCurrentProcess().PeakWorkingSet64 / 1048576.0:F0} MB (the operator runtime; the API server runs in another process; target < 150 MB)");
Console.WriteLine($"Managed heap after the run:       {GC.GetTotalMemory(forceFullCollection: true) / 1048576.0:F0} MB");

return 0;

// /debug/requests is not counted as an API request, so snapshots do not disturb the figures.
static async Task<Dictionary<string, long>> Snapshot(HttpClient http) =>
    JsonSerializer.Deserialize<Dictionary<string, long>>(await http.GetStringAsync("/debug/requests")) ?? [];

static Dictionary<string, long> Diff(Dictionary<string, long> after, Dictionary<string, long> before) =>
    after.ToDictionary(p => p.Key, p => p.Value - before.GetValueOrDefault(p.Key));

internal sealed class BenchReconciler(
    Informer<BuildRun> cache,
    StatusWriter<BuildRun, BuildRunStatus> writer,
    System.Collections.Concurrent.ConcurrentDictionary<string, byte> reconciled,
    int expected,
    TaskCompletionSource done) : IReconciler<BuildRun>
{
    public async Task<ReconcileResult> ReconcileAsync(ReconcileRequest request, CancellationToken ct)
    {
        if (cache.Get(request.Key) is not { } run)
        {
            return ReconcileResult.Done;
        }

        await writer.UpdateAsync(run, r => r.Status.Phase = BuildRunPhase.Queued, ct);
        if (reconciled.TryAdd(request.Name, 0) && reconciled.Count == expected)
        {
            done.TrySetResult();
        }

        return ReconcileResult.Done;
    }
}
