using Gentoo.Entities.V1Alpha1;
using Gentoo.Runtime;
using k8s;

namespace Gentoo.Binhost;

/// <summary>The builder's latest BuildRuns as the binhost's page lists them.</summary>
public static class PageRuns
{
    public static async Task<IReadOnlyList<PageRun>> LatestAsync(IKubernetes kube, string ns, string builder, int count, CancellationToken ct)
    {
        var runs = (await new ResourceApi<BuildRun>(kube).ListAsync(ns, ct)).Items;
        return
        [
            .. runs.Where(r => r.Spec.BuilderRef.Name == builder)
                .OrderByDescending(r => r.Metadata.CreationTimestamp ?? DateTime.MinValue)
                .Take(count)
                .Select(r =>
                {
                    var waiting = r.Status?.Phase == BuildRunPhase.AwaitingOperator;
                    var condition = Conditions.Find(r.Status?.Conditions, waiting ? ConditionTypes.AwaitingOperator : ConditionTypes.Ready);
                    return new PageRun(r.Metadata.Name, (r.Status?.Phase ?? BuildRunPhase.Pending).ToString(), r.Status?.StartTime, condition?.Message, waiting);
                }),
        ];
    }
}
