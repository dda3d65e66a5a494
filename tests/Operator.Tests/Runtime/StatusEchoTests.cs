using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Gentoo.Entities.V1Alpha1;
using Gentoo.Operator.Tests.Integration;
using Gentoo.Runtime;
using k8s;
using k8s.Models;
using Microsoft.Extensions.Logging.Abstractions;
using Prometheus;

namespace Gentoo.Operator.Tests.Runtime;

/// <summary>
/// A reconcile that ends by writing its object's status is not woken again by that write's watch event, while every
/// other change (someone else's write, its echo after another reconcile began) still wakes it. The watch is scripted,
/// so which event comes when is the test's to say.
/// </summary>
public sealed class StatusEchoTests
{
    [Fact]
    public async Task The_watch_event_of_a_reconciles_own_last_status_write_does_not_wake_it_again()
    {
        var source = new ScriptedWatch();
        var reconciler = new ScriptedReconciler();
        var writtenAt = "2";
        reconciler.Behaviour = (_, _) => Task.FromResult(ReconcileResult.Done with { WroteStatusAt = writtenAt });
        await using var running = await RunningAsync(source, reconciler);

        source.Send(WatchEventType.Added, Run("1", null));
        await Eventually.TrueAsync(() => reconciler.CallsFor("run") == 1 && running.Controller.Queue.Depth == 0, "the first reconcile");
        await Task.Delay(100); // the reconcile has ended and recorded its write

        source.Send(WatchEventType.Modified, Run("2", BuildRunPhase.Queued)); // the echo of its write: a phase change
        await Task.Delay(300);
        reconciler.CallsFor("run").ShouldBe(1, "the echo showed only what the reconcile decided");

        writtenAt = "4";
        source.Send(WatchEventType.Modified, Run("3", BuildRunPhase.Pending)); // someone else's write
        await Eventually.TrueAsync(() => reconciler.CallsFor("run") == 2, "another writer's phase change to wake the run");
        await Task.Delay(100);
        source.Send(WatchEventType.Modified, Run("4", BuildRunPhase.Queued, annotation: "resume")); // an echo that brings metadata too
        await Eventually.TrueAsync(() => reconciler.CallsFor("run") == 3, "a metadata change to wake the run, echo or not");
    }

    [Fact]
    public async Task An_echo_that_comes_after_another_reconcile_began_wakes_the_run()
    {
        var source = new ScriptedWatch();
        var reconciler = new ScriptedReconciler();
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        reconciler.Behaviour = async (_, ct) =>
        {
            if (reconciler.CallsFor("run") == 2)
            {
                await release.Task.WaitAsync(ct); // the second reconcile decides on a cache that has not seen the first's write
            }

            return ReconcileResult.Done with { WroteStatusAt = reconciler.CallsFor("run") == 1 ? "2" : null };
        };
        await using var running = await RunningAsync(source, reconciler);

        source.Send(WatchEventType.Added, Run("1", null));
        await Eventually.TrueAsync(() => reconciler.CallsFor("run") == 1 && running.Controller.Queue.Depth == 0, "the first reconcile");
        await Task.Delay(100);
        running.Controller.Enqueue(new ObjectKey("ns", "run")); // woken by something else (a pod) before the echo came
        await Eventually.TrueAsync(() => reconciler.CallsFor("run") == 2, "the second reconcile to begin");

        source.Send(WatchEventType.Modified, Run("2", BuildRunPhase.Queued));
        release.SetResult();
        await Eventually.TrueAsync(() => reconciler.CallsFor("run") == 3, "the echo to wake the run once more: the second reconcile may not have seen it");
    }

    [Theory]
    [InlineData(new[] { "2" }, "2", 1)] // its own write, delivered before the reconcile returned: not again
    [InlineData(new[] { "2" }, "3", 2)] // someone else's write meanwhile: again, on the newer object
    [InlineData(new[] { "2" }, null, 2)] // the reconcile wrote nothing: the change is someone else's
    [InlineData(new[] { "2", "3" }, "3", 2)] // its own write and someone else's: again
    public async Task A_status_change_that_comes_while_the_run_is_reconciled_wakes_it_once_that_ends_unless_it_was_its_own_write(
        string[] changesMeanwhile, string? wroteAt, int reconciles)
    {
        var source = new ScriptedWatch();
        var reconciler = new ScriptedReconciler();
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        reconciler.Behaviour = async (_, ct) =>
        {
            if (reconciler.CallsFor("run") > 1)
            {
                return ReconcileResult.Done;
            }

            await release.Task.WaitAsync(ct);
            return ReconcileResult.Done with { WroteStatusAt = wroteAt };
        };
        await using var running = await RunningAsync(source, reconciler);
        source.Send(WatchEventType.Added, Run("1", null));
        await Eventually.TrueAsync(() => reconciler.CallsFor("run") == 1, "the reconcile to begin");

        var phases = new[] { BuildRunPhase.Queued, BuildRunPhase.Pending };
        for (var i = 0; i < changesMeanwhile.Length; i++)
        {
            source.Send(WatchEventType.Modified, Run(changesMeanwhile[i], phases[i]));
        }

        await Eventually.TrueAsync(() => running.Controller.Cache.Get(new ObjectKey("ns", "run"))?.Metadata.ResourceVersion == changesMeanwhile[^1], "the cache to have the changes");
        release.SetResult();
        await Eventually.TrueAsync(() => reconciler.CallsFor("run") == reconciles, $"{reconciles} reconciles");
        await Task.Delay(300);
        reconciler.CallsFor("run").ShouldBe(reconciles);
    }

    private static async Task<Running> RunningAsync(ScriptedWatch source, ScriptedReconciler reconciler)
    {
        var metrics = new OperatorMetrics(new CollectorRegistry());
        var informer = new Informer<BuildRun>(source, "ns", metrics, NullLogger.Instance);
        // Phase changes wake a run, as the operator's BuildRun controller has it.
        var controller = new Controller<BuildRun>(informer, () => reconciler, new ControllerOptions { Workers = 2 }, metrics, TimeProvider.System, NullLogger.Instance,
            change => ChangeFilters.SpecOrMetadataChanged(change) || !Nullable.Equals(change.Old?.Status?.Phase, change.Object.Status?.Phase));
        var stop = new CancellationTokenSource();
        var tasks = new[] { informer.RunAsync(stop.Token), controller.RunAsync(stop.Token, stop.Token) };
        await informer.WaitForSyncAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10));
        return new Running(controller, stop, tasks);
    }

    private static BuildRun Run(string resourceVersion, BuildRunPhase? phase, string? annotation = null) => new()
    {
        ApiVersion = $"{GroupVersion.Group}/{GroupVersion.Version}",
        Kind = "BuildRun",
        Metadata = new V1ObjectMeta
        {
            Name = "run",
            NamespaceProperty = "ns",
            ResourceVersion = resourceVersion,
            Generation = 1,
            Annotations = annotation is null ? null : new Dictionary<string, string> { ["example.org/request"] = annotation },
        },
        Spec = new BuildRunSpec { BuilderRef = new LocalReference { Name = "plasma" } },
        Status = new BuildRunStatus { Phase = phase },
    };

    private sealed record Running(Controller<BuildRun> Controller, CancellationTokenSource Stop, Task[] Tasks) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await Stop.CancelAsync();
            try
            {
                await Task.WhenAll(Tasks);
            }
            catch (OperationCanceledException)
            {
            }

            Controller.Dispose();
            Stop.Dispose();
        }
    }

    /// <summary>An empty list, then a watch that sends what the test sends.</summary>
    private sealed class ScriptedWatch : IListWatch<BuildRun>
    {
        private readonly Channel<(WatchEventType, BuildRun)> events = Channel.CreateUnbounded<(WatchEventType, BuildRun)>();

        public KindInfo Kind { get; } = KindInfo.Of<BuildRun>();

        public void Send(WatchEventType type, BuildRun run) => events.Writer.TryWrite((type, run));

        public Task<ResourceList<BuildRun>> ListAsync(string? ns, CancellationToken ct) =>
            Task.FromResult(new ResourceList<BuildRun> { Metadata = new V1ListMeta { ResourceVersion = "1" } });

        public async IAsyncEnumerable<(WatchEventType Type, BuildRun Object)> WatchAsync(
            string? ns, string resourceVersion, TimeSpan timeout, Action<Exception> onError, [EnumeratorCancellation] CancellationToken ct)
        {
            while (await events.Reader.WaitToReadAsync(ct))
            {
                while (events.Reader.TryRead(out var next))
                {
                    yield return next;
                }
            }
        }
    }
}
