using System.Diagnostics;
using System.Globalization;
using Gentoo.Crds;
using Gentoo.Entities.V1Alpha1;
using Gentoo.Kubernetes.TestServer;
using Gentoo.Operator.Desired;
using Gentoo.Operator.Tests.Hosting;
using Gentoo.Operator.Tests.Integration;
using Gentoo.Protocol;
using Gentoo.Runtime;
using k8s;
using k8s.Models;
using Xunit.Abstractions;

namespace Gentoo.Operator.Tests.Faults;

/// <summary>
/// The whole lifecycle (bootstrap, builder, BuildRuns that succeed, that wait for a person and are resumed, an
/// update) driven through the real operator process while faults are injected: the process killed with SIGKILL at
/// random moments and restarted after random delays, a share of its API requests failed (500, 429), delayed, its
/// watches cut or answered 410 Gone, build pods deleted by a person or evicted. Then it must converge, and the
/// figures must hold: no second pod for one attempt, no status going backwards, no attempt lost, no volume deleted
/// that nobody asked to delete. CI runs two kills and six runs; hack/faults.sh runs 50 and 24 (GENTOO_FAULT_KILLS and friends).
/// </summary>
public sealed class FaultSuiteTests(ITestOutputHelper output)
{
    private const string Builder = "plasma-desktop";
    private const string Success = """{"step":"build","result":"succeeded","outcome":"success","emergeExitCode":0,"packagesMerged":1}""";
    private const string UpdateDone = """{"step":"update","result":"succeeded","outcome":"success","emergeExitCode":0,"atoms":[]}""";
    private const string NeedsPerson = """{"step":"build","result":"needs-operator","outcome":"keyword-change-required","emergeExitCode":1,"atoms":["app-misc/nightly-0.9"],"fixes":[{"file":"package.accept_keywords","line":"app-misc/nightly:0 ~amd64","temporary":false}]}""";

    private static int Setting(string name, int fallback) => int.TryParse(Environment.GetEnvironmentVariable(name), CultureInfo.InvariantCulture, out var value) ? value : fallback;

    [Fact]
    [Trait("Category", "Faults")]
    public async Task The_lifecycle_survives_operator_kills_api_faults_and_pod_faults_with_nothing_duplicated_regressed_or_lost()
    {
        var kills = Setting("GENTOO_FAULT_KILLS", 2);
        var runCount = Setting("GENTOO_FAULT_RUNS", 6);
        var seed = Setting("GENTOO_FAULT_SEED", Environment.TickCount & 0x7FFFFFFF);
        output.WriteLine($"seed {seed} (GENTOO_FAULT_SEED), {kills} kills, {runCount} runs");
        var random = new Random(seed);
        var sync = new Lock();
        double Next()
        {
            lock (sync)
            {
                return random.NextDouble();
            }
        }

        await using var server = await KubeApiServer.StartAsync();
        using var kube = new k8s.Kubernetes(server.ClientConfiguration());
        await new CrdInstaller(kube, Microsoft.Extensions.Logging.Abstractions.NullLogger<CrdInstaller>.Instance).InstallAsync(CancellationToken.None);
        var ns = (await kube.CoreV1.CreateNamespaceAsync(new V1Namespace { Metadata = new V1ObjectMeta { Name = "gentoo-builder" } })).Name();
        server.Kubelet.AddNode("node-1", "6.6.30-gentoo", new Dictionary<string, string> { ["kubernetes.io/arch"] = "amd64" });
        server.Kubelet.Script = pod =>
        {
            var name = pod["metadata"]!["name"]!.GetValue<string>();
            var delay = TimeSpan.FromMilliseconds(500 + (4000 * Next()));
            return name.StartsWith(Builder + "-update-", StringComparison.Ordinal) ? new PodScript(0, UpdateDone, Delay: delay)
                : name == DesiredBuildPod.PodName("person-0", 1) || name == DesiredBuildPod.PodName("person-1", 1) ? new PodScript(ExitCodes.NeedsOperator, NeedsPerson, Delay: delay)
                : new PodScript(0, Success, Delay: delay);
        };
        foreach (var file in new[] { "configmap", "gentoobootstrap", "gentoobuilder" })
        {
            await SampleManifests.ApplyAsync(kube, ns, Checkout.PathOf("config", "samples", $"gentoobuilder_v1alpha1_{file}.yaml"));
        }

        await using var proxy = await FaultProxy.StartAsync(server.BaseAddress, bearerToken: null, seed);
        var kubeconfig = OperatorProcess.WriteKubeconfig(proxy.Address.ToString().TrimEnd('/'));
        string[] arguments = ["--kubeconfig", kubeconfig, "--leader-election-namespace", ns, "--health-port", OperatorProcess.FreePort().ToString(CultureInfo.InvariantCulture), "--bind-address", "127.0.0.1"];
        var monitor = new LifecycleMonitor(kube, ns, Builder);
        using var stopMonitor = new CancellationTokenSource();
        var monitoring = monitor.RunAsync(stopMonitor.Token);
        await using var operatorProcess = new OperatorSupervisor(arguments);
        try
        {
            proxy.ErrorRate = 0.3;
            proxy.MaxLatency = TimeSpan.FromMilliseconds(50);
            var runs = new ResourceApi<BuildRun>(kube);
            var builders = new ResourceApi<GentooBuilder>(kube);
            var names = Enumerable.Range(0, runCount).Select(i => i < 2 ? $"person-{i}" : $"run-{i}").ToList();
            var podFaults = 0;
            var clock = Stopwatch.StartNew();
            for (var kill = 0; kill < kills || names.Count > 0; kill++)
            {
                // Work arrives while the operator lives and dies: a run or two, now and then an update; people answer.
                foreach (var name in names.Take(1 + (int)(Next() * 2)).ToList())
                {
                    await runs.CreateAsync(Run(ns, name), CancellationToken.None);
                    names.Remove(name);
                }

                if (kill == 1)
                {
                    await Requests.AnnotateAsync(builders, ns, Builder, new Dictionary<string, string> { [RequestAnnotations.Update] = "fault-suite" });
                }

                podFaults += await PodFaultAsync(kube, server, ns, Next());
                await Task.Delay(TimeSpan.FromSeconds(2 + (18 * Next())));
                await ResumeWaitingAsync(runs, ns);
                if (kill < kills)
                {
                    await operatorProcess.KillAsync(TimeSpan.FromSeconds(2 * Next()));
                }
            }

            proxy.ErrorRate = 0;
            proxy.MaxLatency = TimeSpan.Zero;
            var lastFault = clock.Elapsed;
            var converged = await ConvergeAsync(kube, runs, ns, runCount, operatorProcess);
            var convergence = clock.Elapsed - lastFault;
            stopMonitor.Cancel();
            await monitoring;
            var figures = await monitor.FiguresAsync();
            var finished = converged.Count(r => r.Status.Phase == BuildRunPhase.Succeeded);
            var line = $"{operatorProcess.Kills} operator kills ({operatorProcess.Exits} exits of its own, restarted), {proxy.Injected} API faults, {podFaults} pod faults; {finished}/{runCount} runs succeeded; "
                + $"duplicate pods for one attempt {figures.DuplicatePods}, status regressions {figures.Regressions}, lost attempts {figures.LostAttempts}, "
                + $"volumes deleted unasked {figures.VolumesDeleted}; converged {convergence.TotalSeconds:F1} s after the last fault";
            output.WriteLine(line);
            foreach (var reason in operatorProcess.ExitReasons.Distinct().Take(5))
            {
                output.WriteLine(reason);
            }

            if (Environment.GetEnvironmentVariable("GENTOO_FAULT_REPORT") is { Length: > 0 } report)
            {
                await File.WriteAllTextAsync(report, line + "\n" + string.Join("\n", figures.Details.Concat(operatorProcess.ExitReasons.Distinct().Take(5))) + "\n");
            }

            figures.Details.ShouldBeEmpty(line);
            finished.ShouldBe(runCount, line);
        }
        finally
        {
            await stopMonitor.CancelAsync();
        }
    }

    private static BuildRun Run(string ns, string name) => new()
    {
        ApiVersion = $"{GroupVersion.Group}/{GroupVersion.Version}",
        Kind = "BuildRun",
        Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = ns },
        Spec = new BuildRunSpec
        {
            BuilderRef = new LocalReference { Name = Builder },
            Packages = ["www-client/firefox"],
            OnFailure = name.StartsWith("person-", StringComparison.Ordinal)
                ? new FailureHandling { Policy = FailurePolicy.AwaitOperator }
                : new FailureHandling { Policy = FailurePolicy.Retry, Retries = 10 },
        },
    };

    /// <summary>A person answers every run that waits for one.</summary>
    private static async Task ResumeWaitingAsync(ResourceApi<BuildRun> runs, string ns)
    {
        foreach (var waiting in (await runs.ListAsync(ns, CancellationToken.None)).Items.Where(r => r.Status?.Phase == BuildRunPhase.AwaitingOperator))
        {
            await Requests.AnnotateAsync(runs, ns, waiting.Name(), new Dictionary<string, string> { [RequestAnnotations.Resume] = $"attempt-{waiting.Status.AttemptCount}" });
        }
    }

    /// <summary>Every other time, the next running build pod (waited for up to 20 s: a restarted operator first waits out the Lease) is deleted by a person or evicted by its kubelet.</summary>
    private static async Task<int> PodFaultAsync(IKubernetes kube, KubeApiServer server, string ns, double dice)
    {
        if (dice > 0.5)
        {
            return 0;
        }

        for (var waited = 0; waited < 200; waited++)
        {
            var running = (await kube.CoreV1.ListNamespacedPodAsync(ns)).Items
                .FirstOrDefault(p => p.Status?.Phase == "Running" && p.Metadata.DeletionTimestamp is null && p.Metadata.Labels?.ContainsKey(DesiredBuilderPods.MaintenanceLabel) != true);
            if (running is not null)
            {
                if (dice < 0.25)
                {
                    await CoreWrites.DeleteIfPresentAsync(() => kube.CoreV1.DeleteNamespacedPodAsync(running.Name(), ns));
                }
                else
                {
                    server.Kubelet.Evict(ns, running.Name());
                }

                return 1;
            }

            await Task.Delay(100);
        }

        return 0;
    }

    private static async Task<IReadOnlyList<BuildRun>> ConvergeAsync(IKubernetes kube, ResourceApi<BuildRun> runs, string ns, int count, OperatorSupervisor process)
    {
        try
        {
            return (await Eventually.GetAsync(async () =>
                {
                    await ResumeWaitingAsync(runs, ns); // a pod fault may have left a run waiting for a person
                    return (await runs.ListAsync(ns, CancellationToken.None)).Items;
                },
                items => items.Count == count && items.All(r => r.Status?.Phase is BuildRunPhase.Succeeded or BuildRunPhase.Failed), "every run to end", TimeSpan.FromSeconds(300))).ToList();
        }
        catch (TimeoutException e)
        {
            var items = (await runs.ListAsync(ns, CancellationToken.None)).Items;
            var builder = await new ResourceApi<GentooBuilder>(kube).GetAsync(ns, Builder, CancellationToken.None);
            var pods = (await kube.CoreV1.ListNamespacedPodAsync(ns)).Items.Select(p => $"{p.Name()} {p.Status?.Phase}{(p.Metadata.DeletionTimestamp is null ? "" : " deleting")}");
            throw new TimeoutException(string.Join('\n',
                e.Message[..Math.Min(e.Message.Length, 200)],
                string.Join("; ", items.Select(r => $"{r.Name()} {r.Status?.Phase} attempts {r.Status?.AttemptCount} waiting for {r.Status?.WaitingFor} ({r.Status?.Conditions?.FirstOrDefault(c => c.Type == ConditionTypes.Ready)?.Message})")),
                $"builder: phase {builder?.Status?.Phase}, current run {builder?.Status?.CurrentBuildRun}, current maintenance {builder?.Status?.CurrentMaintenance}, "
                + $"ready: {builder?.Status?.Conditions?.FirstOrDefault(c => c.Type == ConditionTypes.Ready)?.Message}",
                "pods: " + string.Join("; ", pods),
                await process.DescribeAsync(),
                string.Join('\n', (await process.RecentErrorsAsync()).TakeLast(30))));
        }
    }
}
