// kubectl gentoo against kubectl: the plugin published as README installs it (one self-contained file), listing the
// samples' bootstrap and builder and COUNT BuildRuns with `status -A`, beside `kubectl get buildruns -A` listing the
// same runs from the same API server (the in-process one) in the same run. Each command runs once untimed, then RUNS
// times; the medians and the peak memory of each process are printed with their ratio.
// Run: dotnet run -c Release --project bench/PluginBench [-- COUNT [RUNS]]
using System.Diagnostics;
using System.Globalization;
using Gentoo.Crds;
using Gentoo.Entities.V1Alpha1;
using Gentoo.Kubernetes.TestServer;
using Gentoo.Runtime;
using k8s;
using k8s.Models;
using Microsoft.Extensions.Logging.Abstractions;

if (args is ["--help"] or ["-h"] || args.Length > 2 || args.Any(a => !int.TryParse(a, NumberStyles.None, CultureInfo.InvariantCulture, out _)))
{
    Console.WriteLine("usage: dotnet run -c Release --project bench/PluginBench [-- COUNT [RUNS]]");
    Console.WriteLine("  COUNT  BuildRuns listed (default 300)");
    Console.WriteLine("  RUNS   timed runs of each command (default 5)");
    return args is ["--help"] or ["-h"] ? 0 : 2;
}

var count = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 300;
var repeats = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 5;
const string Ns = "bench";

var published = Directory.CreateTempSubdirectory("plugin-bench-").FullName;
Console.WriteLine($"publishing the plugin as README installs it, into {published}...");
Executable.PublishSingleFile("src/Plugin/Plugin.csproj", published);
var plugin = Path.Combine(published, "kubectl-gentoo");
await using var server = await KubeApiServer.StartAsync();
using var kube = new Kubernetes(server.ClientConfiguration());
await new CrdInstaller(kube, NullLogger<CrdInstaller>.Instance).InstallAsync(CancellationToken.None);
await kube.CoreV1.CreateNamespaceAsync(new V1Namespace { Metadata = new V1ObjectMeta { Name = Ns } });
foreach (var file in new[] { "configmap", "gentoobootstrap", "gentoobuilder" })
{
    await SampleManifests.ApplyAsync(kube, Ns, Checkout.PathOf("config", "samples", $"gentoobuilder_v1alpha1_{file}.yaml"));
}

// Runs as a builder's history looks: most succeeded, some failed, one building, a few queued.
var runs = new ResourceApi<BuildRun>(kube);
await Parallel.ForAsync(0, count, async (i, ct) =>
{
    var run = await runs.CreateAsync(new BuildRun
    {
        ApiVersion = $"{GroupVersion.Group}/{GroupVersion.Version}",
        Kind = "BuildRun",
        Metadata = new V1ObjectMeta { Name = $"run-{i:D4}", NamespaceProperty = Ns },
        Spec = new BuildRunSpec { BuilderRef = new LocalReference { Name = "plasma-desktop" }, Packages = ["www-client/firefox", "kde-plasma/plasma-meta"] },
    }, ct);
    run.Status = new BuildRunStatus
    {
        ObservedGeneration = 1,
        Phase = i == count - 1 ? BuildRunPhase.Running : i > count - 5 ? BuildRunPhase.Queued : i % 10 == 3 ? BuildRunPhase.Failed : BuildRunPhase.Succeeded,
    };
    await runs.ReplaceStatusAsync(run, ct);
});

var kubeconfig = OperatorProcess.WriteKubeconfig(server.BaseAddress.ToString().TrimEnd('/'));
var gentoo = Measure(plugin, ["status", "-A", "--kubeconfig", kubeconfig], count);
var kubectl = Measure("kubectl", ["get", "buildruns", "-A", "--kubeconfig", kubeconfig], count);
Console.WriteLine($"{"command",-40} {"median",9} {"peak RSS",9}");
Console.WriteLine($"{"kubectl gentoo status -A",-40} {gentoo.Median.TotalSeconds,8:F3}s {gentoo.PeakMegabytes,7:F0}MB");
Console.WriteLine($"{"kubectl get buildruns -A",-40} {kubectl.Median.TotalSeconds,8:F3}s {kubectl.PeakMegabytes,7:F0}MB");
Console.WriteLine($"kubectl gentoo status -A: {gentoo.Median / kubectl.Median:F2}x kubectl's time (goal <= 1.5x), {gentoo.PeakMegabytes / kubectl.PeakMegabytes:F2}x its memory; {count} BuildRuns, {repeats} runs each, {Environment.ProcessorCount} CPUs");
Directory.Delete(published, recursive: true);
return 0;

// Runs the command once untimed (the page cache), then `repeats` times; the median wall time and the highest peak RSS
// GNU time saw. Every run must list every BuildRun.
(TimeSpan Median, double PeakMegabytes) Measure(string program, string[] arguments, int expected)
{
    var times = new List<TimeSpan>();
    double peak = 0;
    for (var i = 0; i <= repeats; i++)
    {
        var clock = Stopwatch.StartNew();
        var run = Executable.Run("/usr/bin/time", Checkout.Root, ["-f", "gentoo-bench-peak-kb %M", program, .. arguments]);
        var elapsed = clock.Elapsed;
        var lines = (run.Output + run.Error).Split('\n');
        var listed = lines.Count(l => l.Contains("run-", StringComparison.Ordinal));
        if (run.ExitCode != 0 || listed < expected)
        {
            throw new InvalidOperationException($"{program} {string.Join(' ', arguments)} exited {run.ExitCode} listing {listed} of {expected} BuildRuns:\n{run.Output}{run.Error}");
        }

        var kilobytes = lines.Single(l => l.StartsWith("gentoo-bench-peak-kb ", StringComparison.Ordinal)).Split(' ')[1];
        if (i > 0)
        {
            times.Add(elapsed);
            peak = Math.Max(peak, double.Parse(kilobytes, CultureInfo.InvariantCulture) / 1024);
        }
    }

    times.Sort();
    return (times[times.Count / 2], peak);
}
