using System.Diagnostics;
using System.Globalization;
using Gentoo.Crds;
using Gentoo.Entities.V1Alpha1;
using Gentoo.Kubernetes.TestServer;
using Gentoo.Operator.Desired;
using Gentoo.Operator.Storage;
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
/// watches cut or answered 410 Gone, build pods deleted by a person or evicted, their node lost. Then it must converge, and the
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

    [PodDrivingFact]
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

        // A cluster of its own, not the shared fixture: its simulator's eviction delay is the suite's.
        var cluster = new TestCluster();
        await cluster.InitializeAsync();
        try
        {
            await RunAsync(cluster, kills, runCount, seed, Next);
        }
        finally
        {
            await cluster.DisposeAsync();
        }
    }

    private async Task RunAsync(TestCluster cluster, int kills, int runCount, int seed, Func<double> next)
    {
        var kube = cluster.Kube;
        var ns = await cluster.CreateNamespaceAsync();
        if (cluster.Server is { } server)
        {
            server.Kubelet.UnreachableEviction = TimeSpan.FromSeconds(1);
        }

        await using var pods = await PodDriver.StartAsync(cluster, ns, new Dictionary<string, string> { ["kubernetes.io/arch"] = "amd64" }, name =>
        {
            var delay = TimeSpan.FromMilliseconds(500 + (4000 * next()));
            return name.StartsWith(Builder + "-update-", StringComparison.Ordinal) ? new PodScript(0, UpdateDone, Delay: delay)
                : name == DesiredBuildPod.PodName("person-0", 1) || name == DesiredBuildPod.PodName("person-1", 1) ? new PodScript(ExitCodes.NeedsOperator, NeedsPerson, Delay: delay)
                : new PodScript(0, Success, Delay: delay);
        });
        output.WriteLine($"on {(cluster.Server is null ? "a real API server" : "the in-process API server")}, pods driven {(pods.ThroughApi ? "through the API" : "by the kubelet simulator")}");
        await OfferSnapshotsAsync(kube, ns);
        foreach (var file in new[] { "configmap", "gentoobootstrap", "gentoobuilder" })
        {
            await SampleManifests.ApplyAsync(kube, ns, Checkout.PathOf("config", "samples", $"gentoobuilder_v1alpha1_{file}.yaml"));
        }

        await using var proxy = await FaultProxy.StartAsync(cluster.Configuration, seed);
        var kubeconfig = OperatorProcess.WriteKubeconfig(proxy.Address.ToString().TrimEnd('/'));
        string[] arguments = ["--kubeconfig", kubeconfig, "--leader-election-namespace", ns, "--health-port", OperatorProcess.FreePort().ToString(CultureInfo.InvariantCulture), "--bind-address", "127.0.0.1"];
        // The builder's binhost asks for builds desktops lack through the same faulty network as the operator.
        using var binhostKube = new k8s.Kubernetes(KubernetesClientConfiguration.BuildConfigFromConfigFile(kubeconfig));
        using var onDemand = new Gentoo.Binhost.OnDemandBuilds(binhostKube, ns, Builder, maxRunsPerHour: 60, TimeProvider.System);
        var onDemandRuns = new HashSet<string>(StringComparer.Ordinal);
        var monitor = new LifecycleMonitor(kube, ns, Builder, keepSnapshots: 3);
        using var stopMonitor = new CancellationTokenSource();
        var monitoring = Task.WhenAll(monitor.RunAsync(stopMonitor.Token), TakeSnapshotsAsync(kube, ns, stopMonitor.Token));
        await using var operatorProcess = new OperatorSupervisor(arguments);
        try
        {
            proxy.ErrorRate = 0.3;
            proxy.MaxLatency = TimeSpan.FromMilliseconds(50);
            var runs = new ResourceApi<BuildRun>(kube);
            var builders = new ResourceApi<GentooBuilder>(kube);
            var names = Enumerable.Range(0, runCount).Select(i => i < 2 ? $"person-{i}" : $"run-{i}").ToList();
            var podFaults = new List<PodFault>();
            var clock = Stopwatch.StartNew();
            for (var kill = 0; kill < kills || names.Count > 0; kill++)
            {
                // Work arrives while the operator lives and dies: a run or two, now and then an update; people answer.
                foreach (var name in names.Take(1 + (int)(next() * 2)).ToList())
                {
                    await runs.CreateAsync(Run(ns, name), CancellationToken.None);
                    names.Remove(name);
                }

                if (kill == 1)
                {
                    await Requests.AnnotateAsync(builders, ns, Builder, new Dictionary<string, string> { [RequestAnnotations.Update] = "fault-suite" });
                }

                if (kill % 10 == 0 || kill == 1)
                {
                    // A desktop asks for a package not built yet, and a second one asks for the same: one run for both.
                    string[] atoms = [$"app-misc/wanted{kill}"];
                    var first = await AskAsync(onDemand, atoms, "desktop-a");
                    var second = await AskAsync(onDemand, atoms, "desktop-b");
                    second.ShouldBe(first, "two desktops asking for the same package while its run is open get the same run");
                    onDemandRuns.Add(first);
                }

                // Each kind of pod fault in turn, the newest first, so that a short run (CI's) meets each.
                PodFault[] kinds = [PodFault.NodeLost, PodFault.Evicted, PodFault.Deleted];
                podFaults.Add(await PodFaultAsync(kube, pods, ns, kinds[podFaults.Count(f => f != PodFault.None) % kinds.Length], next));
                await Task.Delay(TimeSpan.FromSeconds(2 + (18 * next())));
                await ResumeWaitingAsync(runs, ns);
                if (kill < kills)
                {
                    await operatorProcess.KillAsync(TimeSpan.FromSeconds(2 * next()));
                }
            }

            proxy.ErrorRate = 0;
            proxy.MaxLatency = TimeSpan.Zero;
            var lastFault = clock.Elapsed;
            var converged = await ConvergeAsync(kube, runs, ns, runCount + onDemandRuns.Count, operatorProcess);
            var convergence = clock.Elapsed - lastFault;
            stopMonitor.Cancel();
            await monitoring;
            var figures = await monitor.FiguresAsync();
            var finished = converged.Count(r => r.Status.Phase == BuildRunPhase.Succeeded);
            var total = runCount + onDemandRuns.Count;
            var line = $"{operatorProcess.Kills} operator kills ({operatorProcess.Exits} exits of its own, restarted), {proxy.Injected} API faults, {podFaults.Count(f => f != PodFault.None)} pod faults ({podFaults.Count(f => f == PodFault.NodeLost)} lost nodes); {finished}/{total} runs succeeded ({onDemandRuns.Count} asked for on demand); "
                + $"duplicate pods for one attempt {figures.DuplicatePods} (pods made again before any run recorded them {figures.PodsMadeAgain}), status regressions {figures.Regressions}, lost attempts {figures.LostAttempts}, "
                + $"volumes deleted unasked {figures.VolumesDeleted}, snapshots taken {figures.SnapshotsTaken} and deleted unasked {figures.SnapshotsDeleted}; "
                + $"packages built {figures.Packages.Built}, re-used {figures.Packages.Reused} of {figures.Packages.BuiltBefore} an attempt needed that an earlier one had built, lost {figures.Packages.Lost}; converged {convergence.TotalSeconds:F1} s after the last fault";
            output.WriteLine(line);
            foreach (var run in converged.OrderBy(r => r.Metadata.CreationTimestamp))
            {
                output.WriteLine($"{run.Name()}: created {run.Metadata.CreationTimestamp:HH:mm:ss}, started {run.Status.StartTime:HH:mm:ss}, ended {run.Status.CompletionTime:HH:mm:ss}, "
                    + $"{run.Status.AttemptCount} attempt(s): {string.Join(", ", (run.Status.Attempts ?? []).Select(a => $"{a.Outcome} {a.StartTime:HH:mm:ss}-{a.EndTime:HH:mm:ss}"))}");
            }
            // What the builder made of the successes: its snapshots and why it took none where it did not.
            var builderNow = (await builders.GetAsync(ns, Builder, CancellationToken.None))!;
            var builderEvents = (await kube.CoreV1.ListNamespacedEventAsync(ns)).Items.Where(e => e.InvolvedObject.Kind == "GentooBuilder")
                .GroupBy(e => e.Reason).Select(g => $"{g.Key} x{g.Sum(e => e.Count ?? 1)}");
            var builderLine = $"builder: last success {builderNow.Status.LastSuccessfulBuildRun}, snapshots {string.Join(", ", (builderNow.Status.Snapshots ?? []).Select(s => s.Name))}; events {string.Join(", ", builderEvents)}";
            output.WriteLine(builderLine);
            foreach (var reason in operatorProcess.ExitReasons.Distinct().Take(5))
            {
                output.WriteLine(reason);
            }

            if (Environment.GetEnvironmentVariable("GENTOO_FAULT_REPORT") is { Length: > 0 } report)
            {
                await File.WriteAllTextAsync(report, line + "\n" + string.Join("\n", figures.Details.Append(builderLine).Concat(operatorProcess.ExitReasons.Distinct().Take(5))) + "\n");
            }

            figures.Details.ShouldBeEmpty(line);
            finished.ShouldBe(total, line);
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

    /// <summary>An on-demand request as the binhost makes it, asked again while the API answers with errors (as a desktop's emerge would); the run's name.</summary>
    private static async Task<string> AskAsync(Gentoo.Binhost.OnDemandBuilds onDemand, IReadOnlyList<string> atoms, string requester)
    {
        for (var tries = 1; ; tries++)
        {
            try
            {
                var answer = await onDemand.RequestAsync(atoms, requester, CancellationToken.None);
                return answer.BuildRun ?? throw new InvalidOperationException($"on-demand request refused: retry after {answer.RetryAfter}");
            }
            catch (k8s.Autorest.HttpOperationException) when (tries < 50)
            {
                await Task.Delay(200);
            }
        }
    }

    /// <summary>
    /// Storage that snapshots, as a CSI driver with the external snapshotter offers it, where the API server serves
    /// VolumeSnapshots (envtest has no such CRDs: there the root volume is copied): the bootstrap is snapshotted, the
    /// builder restored from it, and each success snapshotted, the oldest pruned (snapshots.keep).
    /// </summary>
    private static async Task OfferSnapshotsAsync(IKubernetes kube, string ns)
    {
        if (!await ApiDiscovery.ServesAsync(kube, VolumeSnapshot.Group, "v1", CancellationToken.None))
        {
            return;
        }

        var driver = $"faulty.{ns}.csi.example.com";
        await kube.StorageV1.CreateStorageClassAsync(new V1StorageClass
        {
            Metadata = new V1ObjectMeta { Name = "faulty-" + ns, Annotations = new Dictionary<string, string> { [SnapshotSupport.DefaultStorageClassAnnotation] = "true" } },
            Provisioner = driver,
        });
        await kube.CustomObjects.CreateClusterCustomObjectAsync(
            new VolumeSnapshotClass { Metadata = new V1ObjectMeta { Name = "faulty-" + ns }, Driver = driver }, VolumeSnapshot.Group, "v1", "volumesnapshotclasses");
    }

    /// <summary>The snapshot controller and CSI driver: a VolumeSnapshot is ready to use a moment after it is made.</summary>
    private static async Task TakeSnapshotsAsync(IKubernetes kube, string ns, CancellationToken ct)
    {
        var api = new ResourceApi<VolumeSnapshot>(kube);
        while (!ct.IsCancellationRequested)
        {
            try
            {
                foreach (var taken in (await api.ListAsync(ns, ct)).Items.Where(s => s.Status?.ReadyToUse != true && s.Metadata.DeletionTimestamp is null))
                {
                    taken.Status = new VolumeSnapshotStatus { ReadyToUse = true, CreationTime = DateTime.UtcNow, RestoreSize = "80Gi" };
                    await api.ReplaceStatusAsync(taken, ct);
                }

                await Task.Delay(TimeSpan.FromMilliseconds(300), ct);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (k8s.Autorest.HttpOperationException)
            {
                // Changed or gone meanwhile: the next look sees it as it is.
            }
        }
    }

    /// <summary>A person answers every run that waits for one.</summary>
    private static async Task ResumeWaitingAsync(ResourceApi<BuildRun> runs, string ns)
    {
        foreach (var waiting in (await runs.ListAsync(ns, CancellationToken.None)).Items.Where(r => r.Status?.Phase == BuildRunPhase.AwaitingOperator))
        {
            await Requests.AnnotateAsync(runs, ns, waiting.Name(), new Dictionary<string, string> { [RequestAnnotations.Resume] = $"attempt-{waiting.Status.AttemptCount}" });
        }
    }

    /// <summary>
    /// The next running build pod (waited for up to 20 s: a restarted operator first waits out the Lease; longer would
    /// keep the API faults on for good, under which a builder is slow to get ready) is deleted by a person, evicted by its kubelet, or its node is lost for a while: the
    /// taint manager deletes the pod (left Terminating, nobody being there to confirm) and, half the time, a person
    /// force-deletes it as the run's message says, before the node comes back.
    /// </summary>
    private static async Task<PodFault> PodFaultAsync(IKubernetes kube, PodDriver pods, string ns, PodFault kind, Func<double> next)
    {
        for (var waited = 0; waited < 200; waited++)
        {
            var running = (await kube.CoreV1.ListNamespacedPodAsync(ns)).Items
                .FirstOrDefault(p => p.Status?.Phase == "Running" && p.Metadata.DeletionTimestamp is null && p.Metadata.Labels?.ContainsKey(DesiredBuildPod.BuildRunLabel) == true);
            if (running is not null)
            {
                if (kind == PodFault.Deleted)
                {
                    await CoreWrites.DeleteIfPresentAsync(() => kube.CoreV1.DeleteNamespacedPodAsync(running.Name(), ns));
                    return PodFault.Deleted;
                }

                if (kind == PodFault.Evicted)
                {
                    await pods.EvictAsync(running.Name());
                    return PodFault.Evicted;
                }

                var node = await pods.LoseNodeOfAsync(running.Name());
                await Task.Delay(TimeSpan.FromSeconds(2 + (6 * next())));
                if (next() < 0.5)
                {
                    await CoreWrites.DeleteIfPresentAsync(() => kube.CoreV1.DeleteNamespacedPodAsync(running.Name(), ns, new V1DeleteOptions { GracePeriodSeconds = 0 }));
                }

                await pods.ReturnNodeAsync(node);
                return PodFault.NodeLost;
            }

            await Task.Delay(100);
        }

        return PodFault.None;
    }

    private enum PodFault
    {
        None,
        Deleted,
        Evicted,
        NodeLost,
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
