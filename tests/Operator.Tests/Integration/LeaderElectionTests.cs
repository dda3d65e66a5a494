using System.Text.Json;
using Gentoo.Runtime;
using k8s;
using k8s.Models;

namespace Gentoo.Operator.Tests.Integration;

[Collection(ClusterCollection.Name)]
public sealed class LeaderElectionTests(TestCluster cluster)
{
    private static LeaderElectionSettings Fast(string identity) => new()
    {
        Identity = identity,
        LeaseDuration = TimeSpan.FromSeconds(2),
        RenewDeadline = TimeSpan.FromSeconds(1.5),
        RetryPeriod = TimeSpan.FromMilliseconds(250),
    };

    [Fact]
    public async Task Second_instance_takes_over_after_the_first_ones_lease_expires_and_the_first_stops_reconciling()
    {
        var ns = await cluster.CreateNamespaceAsync();
        var first = new ScriptedReconciler();
        var second = new ScriptedReconciler();
        await using var a = new RuntimeHarness(cluster, ns, first, leaderElection: true, election: Fast("replica-a"));
        await using var b = new RuntimeHarness(cluster, ns, second, leaderElection: true, election: Fast("replica-b"));
        await a.StartAsync();
        await Eventually.TrueAsync(() => a.Manager.IsLeader, "replica a to lead");
        await b.StartAsync();
        await a.Api.CreateAsync(TestCluster.NewBuildRun(ns, "before"), CancellationToken.None);
        await Eventually.TrueAsync(() => first.CallsFor("before") > 0, "the leader to reconcile");
        second.Calls.ShouldBeEmpty("a replica that does not lead must not reconcile");

        await a.StopAsync();
        var stoppedAt = first.Calls.Count;
        await Eventually.TrueAsync(() => b.Manager.IsLeader, "replica b to take over once the lease expired", TimeSpan.FromSeconds(15));
        await b.Api.CreateAsync(TestCluster.NewBuildRun(ns, "after"), CancellationToken.None);

        await Eventually.TrueAsync(() => second.CallsFor("after") > 0, "the new leader to reconcile");
        first.Calls.Count.ShouldBe(stoppedAt, "the old leader must not reconcile after it stopped");
        var lease = await cluster.Kube.CoordinationV1.ReadNamespacedLeaseAsync("gentoo-operator-leader", ns);
        lease.Spec.HolderIdentity.ShouldBe("replica-b");
    }

    [Fact]
    public async Task Losing_the_lease_stops_reconciling_at_once()
    {
        var ns = await cluster.CreateNamespaceAsync();
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var canceled = false;
        var reconciler = new ScriptedReconciler
        {
            Behaviour = async (request, ct) =>
            {
                if (request.Name == "long")
                {
                    try
                    {
                        await release.Task.WaitAsync(ct);
                    }
                    catch (OperationCanceledException)
                    {
                        canceled = true;
                        throw;
                    }
                }

                return ReconcileResult.Done;
            },
        };
        await using var a = new RuntimeHarness(cluster, ns, reconciler, leaderElection: true, election: Fast("replica-a"));
        await a.StartAsync();
        await Eventually.TrueAsync(() => a.Manager.IsLeader, "replica a to lead");
        await a.Api.CreateAsync(TestCluster.NewBuildRun(ns, "long"), CancellationToken.None);
        await Eventually.TrueAsync(() => reconciler.CallsFor("long") > 0, "the long reconcile to start");

        // Another holder takes the Lease over and keeps renewing it: the renewal fails and leadership ends. (A holder that
        // stopped renewing would lose it back after the lease duration, as it should: electors go by when they saw a renewal.)
        using var intruding = new CancellationTokenSource();
        var intruder = Task.Run(async () =>
        {
            while (!intruding.IsCancellationRequested)
            {
                var now = DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ss.ffffffZ", System.Globalization.CultureInfo.InvariantCulture);
                var patch = JsonSerializer.Serialize(new { spec = new { holderIdentity = "intruder", renewTime = now } });
                await cluster.Kube.CoordinationV1.PatchNamespacedLeaseAsync(new V1Patch(patch, V1Patch.PatchType.MergePatch), "gentoo-operator-leader", ns);
                await Task.Delay(250, CancellationToken.None);
            }
        });

        await Eventually.TrueAsync(() => !a.Manager.IsLeader, "replica a to notice it lost the lease", TimeSpan.FromSeconds(10));
        await Eventually.TrueAsync(() => canceled, "the in-flight reconcile to be canceled");
        var calls = reconciler.Calls.Count;
        await a.Api.CreateAsync(TestCluster.NewBuildRun(ns, "ignored"), CancellationToken.None);
        await Task.Delay(TimeSpan.FromSeconds(3)); // longer than the lease duration: the intruder's renewals are what keep replica a out
        reconciler.Calls.Count.ShouldBe(calls, "no reconcile may start without the lease");
        a.Manager.IsLeader.ShouldBeFalse();
        await intruding.CancelAsync();
        await intruder;
    }
}
