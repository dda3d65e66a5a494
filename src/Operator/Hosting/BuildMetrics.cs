using Gentoo.Entities.V1Alpha1;
using Gentoo.Runtime;
using Prometheus;

namespace Gentoo.Operator.Hosting;

/// <summary>
/// What the builds came to, next to the runtime's metrics on the same registry: runs ended by builder and outcome, how
/// long they took, packages compiled and re-used, and (read from the cache at each scrape) the runs waiting for a person.
/// Ends are counted where a reconcile stored them, once per run.
/// </summary>
public sealed class BuildMetrics
{
    private readonly Counter builds;
    private readonly Histogram duration;
    private readonly Counter built;
    private readonly Counter reused;
    private readonly Gauge awaiting;

    public BuildMetrics(CollectorRegistry registry, ICache<BuildRun> runs)
    {
        var factory = Metrics.WithCustomRegistry(registry);
        builds = factory.CreateCounter("gentoo_builder_buildruns_ended_total", "BuildRuns that ended, or began to wait for a person, by builder and outcome (succeeded, failed, stopped, awaiting-person, stalled)", "namespace", "builder", "outcome");
        duration = factory.CreateHistogram("gentoo_builder_buildrun_duration_seconds", "From a BuildRun's start to its end, by builder and outcome", new HistogramConfiguration
        {
            LabelNames = ["namespace", "builder", "outcome"],
            Buckets = [60, 300, 900, 1800, 3600, 7200, 14400, 28800, 57600, 115200],
        });
        built = factory.CreateCounter("gentoo_builder_packages_built_total", "Packages compiled by BuildRuns that ended, by builder", "namespace", "builder");
        reused = factory.CreateCounter("gentoo_builder_packages_reused_total", "Binary packages BuildRuns re-used instead of compiling, by builder", "namespace", "builder");
        awaiting = factory.CreateGauge("gentoo_builder_buildruns_awaiting_person", "BuildRuns waiting for a person now (AwaitingOperator or Stalled), by builder", "namespace", "builder");
        registry.AddBeforeCollectCallback(() => CountAwaiting(runs));
    }

    /// <summary>Called with a run's status before and after a reconcile's write: an end is counted when the write made it.</summary>
    public void Observe(BuildRun stored, BuildRunPhase? before)
    {
        var after = stored.Status?.Phase;
        if (after == before || Outcome(stored) is not { } outcome)
        {
            return;
        }

        var (ns, builder) = (stored.Metadata.NamespaceProperty ?? "", stored.Spec.BuilderRef.Name);
        builds.WithLabels(ns, builder, outcome).Inc();
        if (after.IsFinished())
        {
            if (stored.Status!.StartTime is { } start && stored.Status.CompletionTime is { } end && end >= start)
            {
                duration.WithLabels(ns, builder, outcome).Observe((end - start).TotalSeconds);
            }

            built.WithLabels(ns, builder).Inc(stored.Status.Packages?.Built ?? 0);
            reused.WithLabels(ns, builder).Inc(stored.Status.Packages?.Reused ?? 0);
        }
    }

    private static string? Outcome(BuildRun run) => run.Status?.Phase switch
    {
        BuildRunPhase.Succeeded => "succeeded",
        BuildRunPhase.Failed => run.Status.Conditions?.FirstOrDefault(c => c.Type == ConditionTypes.Ready)?.Reason == Reasons.Stopped ? "stopped" : "failed",
        BuildRunPhase.AwaitingOperator => "awaiting-person",
        BuildRunPhase.Stalled => "stalled",
        _ => null,
    };

    private void CountAwaiting(ICache<BuildRun> runs)
    {
        var counts = runs.List(null)
            .Where(r => r.Status?.Phase is BuildRunPhase.AwaitingOperator or BuildRunPhase.Stalled)
            .GroupBy(r => (r.Metadata.NamespaceProperty ?? "", r.Spec.BuilderRef.Name))
            .ToDictionary(g => g.Key, g => g.Count());
        foreach (var labels in awaiting.GetAllLabelValues().Select(l => (l[0], l[1])).Where(l => !counts.ContainsKey(l)).ToList())
        {
            awaiting.WithLabels(labels.Item1, labels.Item2).Set(0);
        }

        foreach (var ((ns, builder), count) in counts)
        {
            awaiting.WithLabels(ns, builder).Set(count);
        }
    }
}
