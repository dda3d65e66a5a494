using Gentoo.Entities.V1Alpha1;
using Gentoo.Runtime;
using k8s;

namespace Gentoo.Operator.Tests.Integration;

[Collection(ClusterCollection.Name)]
public sealed class WatchStreamIntegrationTests(TestCluster cluster)
{
    [Fact]
    public async Task A_watch_sees_a_runs_creation_status_change_and_deletion_in_order()
    {
        var ns = await cluster.CreateNamespaceAsync();
        var api = new ResourceApi<BuildRun>(cluster.Kube);
        var from = (await api.ListAsync(ns, CancellationToken.None)).Metadata.ResourceVersion;
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var seen = new List<(WatchEventType, string, BuildRunPhase?)>();
        var errors = new List<Exception>();
        var watching = Task.Run(async () =>
        {
            await foreach (var (type, run) in api.WatchAsync(ns, from, TimeSpan.FromMinutes(1), errors.Add, stop.Token))
            {
                if (type == WatchEventType.Bookmark)
                {
                    continue;
                }

                seen.Add((type, run.Metadata.Name, run.Status?.Phase));
                if (type == WatchEventType.Deleted)
                {
                    return;
                }
            }
        });

        var made = await api.CreateAsync(TestCluster.NewBuildRun(ns, "firefox"), CancellationToken.None);
        made.Status = new BuildRunStatus { Phase = BuildRunPhase.Queued };
        await api.ReplaceStatusAsync(made, CancellationToken.None);
        await api.DeleteAsync(ns, "firefox", CancellationToken.None);
        await watching.WaitAsync(stop.Token);

        errors.ShouldBeEmpty();
        seen.ShouldBe([(WatchEventType.Added, "firefox", null), (WatchEventType.Modified, "firefox", BuildRunPhase.Queued), (WatchEventType.Deleted, "firefox", BuildRunPhase.Queued)]);
    }
}
