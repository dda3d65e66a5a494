using Serilog.Events;

namespace Gentoo.Operator.Hosting;

/// <summary>How the operator runs; each value comes from a command-line option or its environment variable.</summary>
public sealed record OperatorOptions
{
    /// <summary>The namespace whose resources are reconciled; null watches all namespaces.</summary>
    public string? WatchNamespace { get; init; }

    /// <summary>Whether only the holder of the leader Lease runs reconcilers (needed with more than one replica).</summary>
    public bool LeaderElection { get; init; } = true;

    /// <summary>Namespace of the leader Lease; defaults to the pod's namespace, else the watched one, else "default".</summary>
    public string? LeaderElectionNamespace { get; init; }

    /// <summary>Port of /healthz, /readyz and /metrics.</summary>
    public int HealthPort { get; init; } = 8080;

    /// <summary>Address the health port binds to.</summary>
    public string BindAddress { get; init; } = "0.0.0.0";

    public LogEventLevel LogLevel { get; init; } = LogEventLevel.Information;

    /// <summary>Log as one JSON object a line (for log collectors) instead of text.</summary>
    public bool JsonLogs { get; init; }

    /// <summary>Path(s) of kubeconfig files; null uses in-cluster config, else KUBECONFIG, else ~/.kube/config.</summary>
    public string? Kubeconfig { get; init; }

    /// <summary>The kubeconfig context; null uses the current one.</summary>
    public string? Context { get; init; }

    /// <summary>Apply the generated CRDs with server-side apply before starting.</summary>
    public bool InstallCrds { get; init; }

    /// <summary>This operator's image: build pods copy the agent out of it with an init container.</summary>
    public string OperatorImage { get; init; } = Entities.ProductInfo.DefaultImage;

    /// <summary>The binhost Service's type when a builder names none (local mode: LoadBalancer, published on this machine).</summary>
    public string BinhostServiceType { get; init; } = "ClusterIP";

    /// <summary>How long a graceful shutdown may take to drain in-flight work.</summary>
    public TimeSpan ShutdownTimeout { get; init; } = TimeSpan.FromSeconds(30);
}
