using Gentoo.Entities.V1Alpha1;
using Gentoo.Runtime;
using k8s;

namespace Gentoo.Binhost;

/// <summary>What became of a request for packages not built yet.</summary>
public sealed record OnDemandAnswer(string? BuildRun, bool Created, TimeSpan? RetryAfter);

/// <summary>
/// Turns a binhost's build requests into BuildRuns of its builder: one per distinct request, none while an open
/// on-demand run already builds the same atoms, and no more than the builder's hourly allowance. One request at a
/// time, so two clients asking at once get the same run.
/// </summary>
public sealed class OnDemandBuilds(IKubernetes kube, string ns, string builder, int maxRunsPerHour, TimeProvider clock) : IDisposable
{
    private readonly ResourceApi<BuildRun> runs = new(kube);
    private readonly SemaphoreSlim oneAtATime = new(1, 1);

    public async Task<OnDemandAnswer> RequestAsync(IReadOnlyList<string> atoms, string requester, CancellationToken ct)
    {
        await oneAtATime.WaitAsync(ct);
        try
        {
            var existing = (await runs.ListAsync(ns, ct)).Items;
            if (OnDemandRequests.Covering(existing, builder, atoms) is { } open)
            {
                return new OnDemandAnswer(open.Metadata.Name, Created: false, RetryAfter: null);
            }

            if (OnDemandRequests.RetryAfter(existing, builder, maxRunsPerHour, clock.GetUtcNow().UtcDateTime) is { } wait)
            {
                return new OnDemandAnswer(null, Created: false, wait);
            }

            var created = await runs.CreateAsync(OnDemandRequests.Run(ns, builder, atoms, requester), ct);
            return new OnDemandAnswer(created.Metadata.Name, Created: true, RetryAfter: null);
        }
        finally
        {
            oneAtATime.Release();
        }
    }

    public void Dispose() => oneAtATime.Dispose();
}
