// The operator at scale: the real operator process (gentoo-operator, as shipped) with COUNT BuildRuns on the samples'
// builder, one building and the rest queued behind it, then all of them deleted; beside a plain client that makes the
// same writes in the same run (create, the status the operator writes for a queued run; delete: a queued run has no
// finalizer), with as many requests at once as the operator has BuildRun workers, in nine rounds each in turn (times are
// the medians, ratios the median of the rounds' ratios). The operator's memory and CPU are its own process's, and with
// the reconcile and request counts they are of the first round, the first burst after start. Before the rounds, nine
// runs one at a time on the idle builder time a build's start on the operator's side: from the BuildRun's creation to
// its build pod's.
// The API server is the in-process one (its kubelet simulator plays the node), or a real one as the integration tests
// take it: GENTOO_TEST_KUBECONFIG (a cluster) or KUBEBUILDER_ASSETS (envtest's etcd and kube-apiserver). There the
// scheduler and kubelet are played through the API (ApiKubelet) on a node of the benchmark's own, tainted, to which
// the samples' pods are pinned; their claims name a StorageClass nobody provisions, so a cluster's own scheduler and
// kubelets leave them alone. GENTOO_TEST_API_KUBELET=1 takes that path on the in-process server.
// Run: dotnet run -c Release --project bench/OperatorBench [-- COUNT]
using System.Diagnostics;
using System.Globalization;
using Gentoo.Bench.Operator;
using Gentoo.Crds;
using Gentoo.Entities.V1Alpha1;
using Gentoo.Kubernetes.TestServer;
using Gentoo.Operator.Decisions;
using Gentoo.Operator.Desired;
using Gentoo.Operator.Reconcilers;
using Gentoo.Runtime;
using k8s;
using k8s.Models;
using Microsoft.Extensions.Logging.Abstractions;

if (args is ["--help"] or ["-h"] || args.Length > 1 || (args.Length == 1 && !int.TryParse(args[0], NumberStyles.None, CultureInfo.InvariantCulture, out _)))
{
    Console.WriteLine("usage: dotnet run -c Release --project bench/OperatorBench [-- COUNT]");
    Console.WriteLine("  COUNT  how many BuildRuns to queue on one builder and delete again (default 1000)");
    return args is ["--help"] or ["-h"] ? 0 : 2;
}

var count = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 1000;
const int Concurrency = 4; // the operator's BuildRun workers (ControllerOptions.Workers)
const int Rounds = 9;
const string Builder = "plasma-desktop";
const string BenchTaint = "gentoobuilder.io/bench"; // the benchmark's node's taint, which only the benchmark's pods tolerate
var timeout = TimeSpan.FromMinutes(10);

// The operator as the image ships it: published by the Dockerfile's command, one self-contained file.
var published = Directory.CreateTempSubdirectory("operator-bench-").FullName;
Console.WriteLine($"publishing the operator as the image's Dockerfile does, into {published}...");
Executable.PublishSingleFile("src/Operator/Operator.csproj", published, Executable.WithoutLocalMode);

await using var cluster = await ApiServerUnderTest.StartAsync();
var server = cluster.Server;
using var kube = new Kubernetes(cluster.Configuration);
await new CrdInstaller(kube, NullLogger<CrdInstaller>.Instance).InstallAsync(CancellationToken.None);
var runs = new ResourceApi<BuildRun>(kube);

Console.WriteLine($"anchor: {count + 1} BuildRuns queued and deleted by a plain client...");
// The anchor: the writes the operator makes for a queued run and for a deleted one, by a client that decides nothing.
// Namespaces of their own, never one a cluster already has.
var anchorNs = (await kube.CoreV1.CreateNamespaceAsync(new V1Namespace { Metadata = new V1ObjectMeta { GenerateName = "gentoo-bench-anchor-" } })).Name();
var anchorRounds = new List<(TimeSpan Queue, TimeSpan Delete)> { await AnchorRoundAsync() };

async Task<(TimeSpan Queue, TimeSpan Delete)> AnchorRoundAsync()
{
    var holder = new BuildRun { Metadata = new V1ObjectMeta { Name = "building" } }; // every anchor run writes the queued status
    var queue = await TimeAsync(async ct =>
    {
        await Parallel.ForAsync(0, count + 1, new ParallelOptions { MaxDegreeOfParallelism = Concurrency, CancellationToken = ct }, async (i, ct) =>
        {
            var created = await runs.CreateAsync(Run(anchorNs, count, i), ct);
            // The status the operator writes for a queued run, conditions and all: the same bytes to store and to send.
            var waiting = BuilderQueue.WaitingFor(created, holder)!;
            created.Status = new BuildRunStatus
            {
                Phase = BuildRunPhase.Queued,
                ObservedGeneration = created.Metadata.Generation,
                WaitingFor = waiting,
                Conditions = Conditions.MarkProgressing(null, Reasons.Queued, waiting, created.Metadata.Generation, DateTime.UtcNow),
            };
            await runs.ReplaceStatusAsync(created, ct);
        });
    });
    var delete = await TimeAsync(ct => Parallel.ForAsync(0, count + 1, new ParallelOptions { MaxDegreeOfParallelism = Concurrency, CancellationToken = ct }, async (i, ct) =>
        await runs.DeleteAsync(anchorNs, RunName(count, i), ct)));
    if ((await runs.ListAsync(anchorNs, CancellationToken.None)).Items.Count is > 0 and var left)
    {
        throw new InvalidOperationException($"the anchor left {left} BuildRuns behind");
    }

    return (queue, delete);
}

Console.WriteLine("starting the operator, making the samples' bootstrap and builder ready...");
// The operator: the samples' bootstrap and builder made ready through the simulator (or ApiKubelet), then the runs.
// Labelled as README tells a cluster's builds namespace to be: the agent's pods are privileged.
var ns = (await kube.CoreV1.CreateNamespaceAsync(new V1Namespace { Metadata = new V1ObjectMeta
{
    GenerateName = "gentoo-bench-", Labels = new Dictionary<string, string> { ["pod-security.kubernetes.io/enforce"] = "privileged" },
} })).Name();
// Build pods build until they are stopped: the first run holds the builder and the others queue. Every other pod
// (bootstrap, root copy) succeeds at once.
var succeeded = new PodScript(0, """{"step":"bootstrap","result":"succeeded","outcome":"success","emergeExitCode":0}""");
// Pods are played through the API on a real API server (envtest has no scheduler or kubelet; a cluster's own must not
// run the benchmark's pods), and on the in-process one on request (GENTOO_TEST_API_KUBELET=1).
await using var apiKubelet = server is null || ApiServerUnderTest.ApiKubeletRequested ? await ApiKubelet.StartAsync(kube, ns, "6.6.30-gentoo", labels: null,
    script: pod => pod.StartsWith("run-", StringComparison.Ordinal) || pod.StartsWith("single-", StringComparison.Ordinal) ? null : succeeded,
    taints: [new V1Taint { Key = BenchTaint, Effect = "NoSchedule" }]) : null;
if (apiKubelet is null)
{
    server!.Kubelet.AddNode("bench-node", "6.6.30-gentoo", new Dictionary<string, string> { ["kubernetes.io/arch"] = "amd64" });
    server.Kubelet.Script = pod => pod["metadata"]?["labels"]?[DesiredBuildPod.BuildRunLabel] is not null ? null : succeeded;
}
else
{
    server?.Kubelet.IgnoredNamespaces.TryAdd(ns, true);
}

foreach (var file in new[] { "configmap", "gentoobootstrap", "gentoobuilder" })
{
    await SampleManifests.ApplyAsync(kube, ns, Checkout.PathOf("config", "samples", $"gentoobuilder_v1alpha1_{file}.yaml"));
}

if (apiKubelet is not null)
{
    // The samples' pods on the benchmark's node alone, and their claims of a class no provisioner serves: a cluster's
    // scheduler finds no node for them (it would wait for the volumes) and ApiKubelet binds them itself.
    var placement = new
    {
        nodeSelector = new Dictionary<string, string> { [ApiKubelet.HostnameLabel] = ApiKubelet.NodeName(ns) },
        tolerations = new[] { new { key = BenchTaint, @operator = "Exists", effect = "NoSchedule" } },
    };
    var unprovisioned = new { storageClassName = "gentoo-bench-unprovisioned" };
    await new ResourceApi<GentooBootstrap>(kube).PatchAsync(ns, Builder, TestPatches.Merge(new { spec = new
    {
        placement.nodeSelector, placement.tolerations, storage = unprovisioned,
    } }), CancellationToken.None);
    await new ResourceApi<GentooBuilder>(kube).PatchAsync(ns, Builder, TestPatches.Merge(new { spec = new
    {
        placement.nodeSelector, placement.tolerations, storage = new { root = unprovisioned, binpkgs = unprovisioned, distfiles = unprovisioned },
    } }), CancellationToken.None);
    // Read back: a field the API server dropped (pruned by the schema) would send the pods to a cluster's own kubelets.
    var pinned = await new ResourceApi<GentooBuilder>(kube).GetAsync(ns, Builder, CancellationToken.None);
    if (pinned?.Spec.NodeSelector?.TryGetValue(ApiKubelet.HostnameLabel, out var pinnedTo) != true || pinnedTo != ApiKubelet.NodeName(ns) || pinned.Spec.Tolerations?.Any(t => t.Key == BenchTaint) != true
        || pinned.Spec.Storage?.Binpkgs?.StorageClassName != unprovisioned.storageClassName)
    {
        throw new InvalidOperationException("the API server did not keep the builder's node selector, toleration or storage class");
    }
}

var healthPort = OperatorProcess.FreePort();
using var metricsClient = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{healthPort}/") };
var started = Stopwatch.StartNew();
// It reconciles its namespace only: the anchor's rounds after the first, in a namespace of their own, are not its work.
using var operatorProcess = OperatorProcess.Start(["--kubeconfig", cluster.Kubeconfig, "--namespace", ns, "--leader-election-namespace", ns, "--health-port",
    healthPort.ToString(CultureInfo.InvariantCulture), "--bind-address", "127.0.0.1", "--log-level", "Warning"], executable: Path.Combine(published, "gentoo-operator"));
await WaitAsync("the operator to be ready", async () => operatorProcess.HasExited
    ? throw new InvalidOperationException($"the operator exited: {await operatorProcess.StandardError}")
    : await IsReadyAsync(metricsClient), pollMilliseconds: 10);
var startToReady = started.Elapsed;
var builders = new ResourceApi<GentooBuilder>(kube);
await WaitAsync("the builder to be ready", async () => Conditions.IsTrue((await builders.GetAsync(ns, Builder, CancellationToken.None))?.Status?.Conditions, ConditionTypes.Ready));

await using var feed = server is not null && apiKubelet is null ? BenchFeed.FromStore(server, ns) : BenchFeed.Watch(kube, ns, anchorNs);
var (phased, podCreated) = (feed.Phased, feed.PodCreated);

// One run at a time on the idle builder: from its creation to its build pod's, the operator's part of a build's start.
Console.WriteLine($"{Rounds} single BuildRuns on the idle builder, each deleted before the next...");
var toPod = new List<TimeSpan>();
for (var single = 0; single < Rounds; single++)
{
    var name = $"single-{single}";
    var sent = Stopwatch.GetTimestamp();
    await runs.CreateAsync(new BuildRun
    {
        ApiVersion = $"{GroupVersion.Group}/{GroupVersion.Version}",
        Kind = "BuildRun",
        Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = ns },
        Spec = new BuildRunSpec { BuilderRef = new LocalReference { Name = Builder }, Packages = ["www-client/firefox"] },
    }, CancellationToken.None);
    await WaitAsync($"the pod of {name}", () => Task.FromResult(podCreated.ContainsKey(name)), pollMilliseconds: 1);
    toPod.Add(Stopwatch.GetElapsedTime(sent, podCreated[name]));
    await runs.DeleteAsync(ns, name, CancellationToken.None);
    await WaitAsync($"{name} to be gone", () => Task.FromResult(!phased.ContainsKey(name)), pollMilliseconds: 5);
}

Console.WriteLine($"queueing {count + 1} BuildRuns on the operator's builder...");
var before = await SamplesAsync(metricsClient);
// Requests are counted by the in-process server alone, and are the operator's only while no ApiKubelet polls it too.
var requestsBefore = apiKubelet is null ? server?.RequestCounts.Values.Sum() : null;
var cpuBeforeQueue = CpuSeconds(operatorProcess.Process.Id);
var operatorQueue = await OperatorQueueAsync();
var queued = await SamplesAsync(metricsClient);
// The API server answers the runs' creation too: what is left is the operator's (and its leader lease's).
var operatorRequests = server?.RequestCounts.Values.Sum() - requestsBefore - (count + 1);
var queueCpu = CpuSeconds(operatorProcess.Process.Id) - cpuBeforeQueue;
var watchRestarts = await SamplesAsync(metricsClient, "gentoo_operator_watch_restarts_total");
await Task.Delay(TimeSpan.FromSeconds(2)); // what the operator holds once the burst is over
var (rss, peak, anonymous, files) = Memory(operatorProcess.Process.Id);
var heap = (await SamplesAsync(metricsClient, "dotnet_total_memory_bytes")).Values.Sum() / (1024 * 1024);
var cpuBeforeDelete = CpuSeconds(operatorProcess.Process.Id);
Console.WriteLine($"deleting them...");
var beforeDelete = await SamplesAsync(metricsClient);
var operatorDelete = await OperatorDeleteAsync();
var deleteCpu = CpuSeconds(operatorProcess.Process.Id) - cpuBeforeDelete;
var deleted = await SamplesAsync(metricsClient);
var operatorRounds = new List<(TimeSpan Queue, TimeSpan Delete)> { (operatorQueue, operatorDelete) };

// More rounds, each side in turn: on two shared cores one burst's time moves by a third from run to run, and with three
// rounds the median moved by as much (1.23x to 1.55x from one run of the benchmark to the next): nine rounds.
for (var round = 2; round <= Rounds; round++)
{
    Console.WriteLine($"round {round} of {Rounds}: the anchor, then the operator...");
    anchorRounds.Add(await AnchorRoundAsync());
    operatorRounds.Add((await OperatorQueueAsync(), await OperatorDeleteAsync()));
}

async Task<TimeSpan> OperatorQueueAsync() => await TimeAsync(async ct =>
{
    await runs.CreateAsync(Run(ns, count, 0), ct);
    await Parallel.ForAsync(1, count + 1, new ParallelOptions { MaxDegreeOfParallelism = Concurrency, CancellationToken = ct }, async (i, ct) =>
        await runs.CreateAsync(Run(ns, count, i), ct));
    await WaitAsync("every run to be reconciled", () => Task.FromResult(phased.Count(r => r.Value) == count + 1), pollMilliseconds: 5);
});

async Task<TimeSpan> OperatorDeleteAsync() => await TimeAsync(async ct =>
{
    await Parallel.ForAsync(0, count + 1, new ParallelOptions { MaxDegreeOfParallelism = Concurrency, CancellationToken = ct }, async (i, ct) =>
        await runs.DeleteAsync(ns, RunName(count, i), ct));
    await WaitAsync("every run to be gone", () => Task.FromResult(phased.IsEmpty), pollMilliseconds: 5);
});
if (apiKubelet is not null)
{
    // On a cluster nothing is left behind: the builder and bootstrap deleted while the operator (their finalizers) runs,
    // then the namespaces; ApiKubelet's node goes when it is disposed.
    Console.WriteLine("deleting the builder, the bootstrap and the benchmark's namespaces...");
    await new ResourceApi<GentooBuilder>(kube).DeleteAsync(ns, Builder, CancellationToken.None);
    await new ResourceApi<GentooBootstrap>(kube).DeleteAsync(ns, Builder, CancellationToken.None);
    await WaitAsync("the builder and the bootstrap to be gone", async () =>
        await builders.GetAsync(ns, Builder, CancellationToken.None) is null && await new ResourceApi<GentooBootstrap>(kube).GetAsync(ns, Builder, CancellationToken.None) is null);
}

await operatorProcess.TerminateAsync();
if (apiKubelet is not null)
{
    await kube.CoreV1.DeleteNamespaceAsync(ns);
    await kube.CoreV1.DeleteNamespaceAsync(anchorNs);
    if (ApiServerUnderTest.HasControllerManager)
    {
        // ApiKubelet finishes the graceful deletion of the pods left on its node (the binhost's) before the node goes.
        await WaitAsync("the benchmark's pods to be gone", async () => (await kube.CoreV1.ListNamespacedPodAsync(ns)).Items.Count == 0);
    }
}

Directory.Delete(published, recursive: true);

var total = count + 1;
Console.WriteLine($"operator benchmark: {total} BuildRuns on one ready builder (one building, the rest queued), {ApiServerUnderTest.Description}{(apiKubelet is null ? "" : ", pods played through the API (ApiKubelet)")}, {Environment.ProcessorCount} cores");
Console.WriteLine($"{"measure",-40} {"operator",12} {"anchor",12} {"ratio",7}  goal");
var (queueMedian, anchorQueueMedian) = (Median(operatorRounds.Select(r => r.Queue)), Median(anchorRounds.Select(r => r.Queue)));
var (deleteMedian, anchorDeleteMedian) = (Median(operatorRounds.Select(r => r.Delete)), Median(anchorRounds.Select(r => r.Delete)));
Row($"queue {total} runs (create, reconcile once)", $"{queueMedian.TotalSeconds:F2} s", $"{anchorQueueMedian.TotalSeconds:F2} s", MedianRatio(operatorRounds.Select(r => r.Queue), anchorRounds.Select(r => r.Queue)), "<= 1.3x the plain client");
Row($"  each of {Rounds} rounds", Ratios(operatorRounds.Select(r => r.Queue), anchorRounds.Select(r => r.Queue)), "", null, "");
Row("  BuildRun reconciles per run", $"{Per(queued, before, "BuildRun"):F2}", "", null, "<= 2");
Row("  operator API requests per run", operatorRequests is { } requests ? $"{(double)requests / total:F2}" : "n/a", "", null, "");
Row("  GentooBuilder reconciles", $"{queued.GetValueOrDefault("GentooBuilder") - before.GetValueOrDefault("GentooBuilder"):F0}", "", null, "");
Row("  operator CPU while queueing", $"{queueCpu:F2} s", "", null, "");
Row("  watch restarts (all kinds, since start)", $"{watchRestarts.Values.Sum():F0}", "", null, "");
Row($"delete {total} runs", $"{deleteMedian.TotalSeconds:F2} s", $"{anchorDeleteMedian.TotalSeconds:F2} s", MedianRatio(operatorRounds.Select(r => r.Delete), anchorRounds.Select(r => r.Delete)), "");
Row($"  each of {Rounds} rounds", Ratios(operatorRounds.Select(r => r.Delete), anchorRounds.Select(r => r.Delete)), "", null, "");
Row("  BuildRun reconciles per deleted run", $"{Per(deleted, beforeDelete, "BuildRun"):F2}", "", null, "<= 2");
Row("  operator CPU while deleting", $"{deleteCpu:F2} s", "", null, "");
Row($"operator memory with {total} runs (RSS)", $"{rss:F0} MB", "", null, "< 80 MB");
Row("  of it the heap, stacks, code (RssAnon)", $"{anonymous:F0} MB", "", null, "");
Row("    of that the GC heap, garbage included", $"{heap:F0} MB", "", null, "");
Row("  of it mapped files (RssFile)", $"{files:F0} MB", "", null, "");
Row("  operator peak memory (VmHWM)", $"{peak:F0} MB", "", null, "");
Row(feed.SeesStores ? "BuildRun created -> its build pod created" : "BuildRun created -> its build pod seen", $"{Median(toPod).TotalSeconds * 1000:F0} ms", "", null, "");
Row("operator start -> ready", $"{startToReady.TotalSeconds:F2} s", "", null, "< 1 s");
return 0;

double Per(Dictionary<string, double> after, Dictionary<string, double> beforeThat, string kind) =>
    (after.GetValueOrDefault(kind) - beforeThat.GetValueOrDefault(kind)) / total;

static TimeSpan Median(IEnumerable<TimeSpan> times) => times.Order().ElementAt(Rounds / 2);

// The ratio is each round's (the operator against the anchor run just before it) and their median: the rounds get faster
// as the benchmark's own API server warms up, so the median time of one side may be of an earlier, slower round than the
// other's, and their quotient moved by a quarter between runs where the rounds' ratios did not.
static double MedianRatio(IEnumerable<TimeSpan> operatorTimes, IEnumerable<TimeSpan> anchorTimes) =>
    RoundRatios(operatorTimes, anchorTimes).Order().ElementAt(Rounds / 2);

static IEnumerable<double> RoundRatios(IEnumerable<TimeSpan> operatorTimes, IEnumerable<TimeSpan> anchorTimes) =>
    operatorTimes.Zip(anchorTimes, (ours, theirs) => ours / theirs);

static string Ratios(IEnumerable<TimeSpan> operatorTimes, IEnumerable<TimeSpan> anchorTimes) =>
    string.Join(" ", RoundRatios(operatorTimes, anchorTimes).Select(ratio => ratio.ToString("F2", CultureInfo.InvariantCulture) + "x"));

static void Row(string measure, string measured, string anchor, double? ratio, string goal) =>
    Console.WriteLine($"{measure,-40} {measured,12} {anchor,12} {(ratio is { } r ? $"{r:F2}x" : ""),7}  {goal}");

static string RunName(int count, int i) => $"run-{i.ToString(CultureInfo.InvariantCulture).PadLeft(count.ToString(CultureInfo.InvariantCulture).Length, '0')}";

static BuildRun Run(string ns, int count, int i) => new()
{
    ApiVersion = $"{GroupVersion.Group}/{GroupVersion.Version}",
    Kind = "BuildRun",
    Metadata = new V1ObjectMeta { Name = RunName(count, i), NamespaceProperty = ns },
    Spec = new BuildRunSpec { BuilderRef = new LocalReference { Name = Builder }, Packages = ["www-client/firefox"] },
};

async Task<TimeSpan> TimeAsync(Func<CancellationToken, Task> work)
{
    using var deadline = new CancellationTokenSource(timeout);
    var clock = Stopwatch.StartNew();
    await work(deadline.Token);
    return clock.Elapsed;
}

Task WaitAsync(string what, Func<Task<bool>> done, int pollMilliseconds = 100) =>
    Eventually.GetAsync(done, holds => holds, what, timeout, TimeSpan.FromMilliseconds(pollMilliseconds));

static async Task<bool> IsReadyAsync(HttpClient client)
{
    try
    {
        return (await client.GetAsync("readyz")).IsSuccessStatusCode;
    }
    catch (HttpRequestException)
    {
        return false;
    }
}

// A metric's samples summed by kind over their other labels (results, reasons), e.g. gentoo_operator_reconcile_total{kind="BuildRun",result="success"} 1001; "" for a metric without kinds.
static async Task<Dictionary<string, double>> SamplesAsync(HttpClient client, string metric = "gentoo_operator_reconcile_total")
{
    var byKind = new Dictionary<string, double>(StringComparer.Ordinal);
    foreach (var line in (await client.GetStringAsync("metrics")).Split('\n'))
    {
        if (!line.StartsWith(metric + "{", StringComparison.Ordinal) && !line.StartsWith(metric + " ", StringComparison.Ordinal))
        {
            continue;
        }

        var kind = line.Contains("kind=\"", StringComparison.Ordinal) ? line.Split("kind=\"")[1].Split('"')[0] : "";
        byKind[kind] = byKind.GetValueOrDefault(kind) + double.Parse(line[(line.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture);
    }

    return byKind;
}

static (double RssMb, double PeakMb, double AnonymousMb, double FilesMb) Memory(int pid)
{
    var lines = File.ReadAllLines($"/proc/{pid}/status");
    double Megabytes(string field) => double.Parse(lines.Single(l => l.StartsWith(field + ":", StringComparison.Ordinal))[(field.Length + 1)..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) / 1024;
    return (Megabytes("VmRSS"), Megabytes("VmHWM"), Megabytes("RssAnon"), Megabytes("RssFile"));
}

// utime and stime, fields 14 and 15 of /proc/PID/stat, in clock ticks (100 per second on Linux).
static double CpuSeconds(int pid)
{
    var afterName = File.ReadAllText($"/proc/{pid}/stat").Split(')')[^1].Split(' ', StringSplitOptions.RemoveEmptyEntries);
    return (double.Parse(afterName[11], CultureInfo.InvariantCulture) + double.Parse(afterName[12], CultureInfo.InvariantCulture)) / 100;
}
