using Prometheus;

namespace Gentoo.Runtime;

/// <summary>The runtime's Prometheus metrics, on a registry of its own (served at /metrics).</summary>
public sealed class OperatorMetrics
{
    public OperatorMetrics(CollectorRegistry registry)
    {
        Registry = registry;
        var factory = Metrics.WithCustomRegistry(registry);
        Reconciles = factory.CreateCounter("gentoo_operator_reconcile_total", "Reconciles by kind and result (success, requeue, conflict, error, terminal, gone, canceled)", "kind", "result");
        ReconcileDuration = factory.CreateHistogram("gentoo_operator_reconcile_duration_seconds", "Duration of reconciles by kind", new HistogramConfiguration
        {
            LabelNames = ["kind"],
            Buckets = Histogram.ExponentialBuckets(0.001, 2, 16),
        });
        QueueDepth = factory.CreateGauge("gentoo_operator_workqueue_depth", "Keys waiting in the work queue by kind", "kind");
        Leader = factory.CreateGauge("gentoo_operator_leader", "1 while this replica runs the reconcilers (holds the leader Lease), else 0");
        WatchRestarts = factory.CreateCounter("gentoo_operator_watch_restarts_total", "Watches restarted by kind and reason (closed, error, gone)", "kind", "reason");
    }

    public CollectorRegistry Registry { get; }

    public Counter Reconciles { get; }

    public Histogram ReconcileDuration { get; }

    public Gauge QueueDepth { get; }

    public Counter WatchRestarts { get; }

    public Gauge Leader { get; }
}
