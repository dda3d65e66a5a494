using Gentoo.Connection;
using Gentoo.Entities.V1Alpha1;
using Gentoo.Binhost;
using Gentoo.Crds;
using Gentoo.Operator.Desired;
using Gentoo.Operator.Reconcilers;
using Gentoo.Runtime;
using k8s;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Prometheus;
using Serilog;
using Serilog.Configuration;
using Serilog.Core;
using Serilog.Formatting;
using Serilog.Formatting.Compact;
using Serilog.Formatting.Display;

namespace Gentoo.Operator.Hosting;

/// <summary>The operator process: connects to the cluster, checks the CRDs, then serves health and metrics while it reconciles.</summary>
public static class OperatorHost
{
    private const string LineTemplate = "{Timestamp:HH:mm:ss} {Level:u3} {SourceContext}: {Message:lj} {Properties:j}{NewLine}{Exception}";

    /// <param name="options">The level and the format.</param>
    public static Logger CreateLogger(OperatorOptions options)
    {
        var configuration = new LoggerConfiguration()
            .MinimumLevel.Is(options.LogLevel)
            // ASP.NET Core's own start-up lines (listening, content root, "Press Ctrl+C") only from warnings up:
            // each process says once, in this format, what it serves where.
            .MinimumLevel.Override("Microsoft", Serilog.Events.LogEventLevel.Warning)
            .Enrich.FromLogContext();
        WriteToConsole(configuration.WriteTo, options);
        return configuration.CreateLogger();
    }

    /// <summary>
    /// A binhost's access lines in this log format, on the stream the console sink writes it to (JSON to standard
    /// output, lines to standard error); none when the level leaves them out.
    /// </summary>
    public static ConsoleAccessLines? AccessLines(OperatorOptions options, TimeZoneInfo zone) =>
        options.LogLevel > Serilog.Events.LogEventLevel.Information
            ? null
            : new ConsoleAccessLines(Formatter(options), options.JsonLogs ? Console.OpenStandardOutput() : Console.OpenStandardError(), zone);

    /// <summary>A line in this log's format: compact JSON with the message rendered, or the text template.</summary>
    internal static ITextFormatter Formatter(OperatorOptions options) =>
        options.JsonLogs ? new RenderedCompactJsonFormatter() : new MessageTemplateTextFormatter(LineTemplate);

    private static void WriteToConsole(LoggerSinkConfiguration sink, OperatorOptions options)
    {
        if (options.JsonLogs)
        {
            sink.Console(Formatter(options));
        }
        else
        {
            sink.Console(outputTemplate: LineTemplate, standardErrorFromLevel: Serilog.Events.LogEventLevel.Verbose);
        }
    }

    /// <summary>Runs until SIGTERM/SIGINT; throws <see cref="StartupException"/> when the cluster is not usable.</summary>
    public static Task RunAsync(OperatorOptions options, Logger logger, CancellationToken ct) =>
        RunAsync(options, logger, ClusterConnection.LoadConfiguration(options, TimeProvider.System), ct);

    /// <summary>Runs against the API server <paramref name="clientConfiguration"/> names (a cluster's, or local mode's embedded one).</summary>
    public static async Task RunAsync(OperatorOptions options, Logger logger, KubernetesClientConfiguration clientConfiguration, CancellationToken ct)
    {
        using var kube = ApiClients.Create(clientConfiguration, TimeProvider.System);
        var version = await StartupRetry.RunAsync(() => ClusterConnection.ProbeAsync(kube, clientConfiguration.Host, TimeSpan.FromSeconds(10), ct), logger, ct);
        logger.Information("Connected to Kubernetes {Version} at {Host}", version, clientConfiguration.Host);

        var app = Build(options, logger, clientConfiguration);
        var installer = app.Services.GetRequiredService<CrdInstaller>();
        try
        {
            if (options.InstallCrds)
            {
                await StartupRetry.RunAsync(async () => { await installer.InstallAsync(ct); return true; }, logger, ct);
            }

            await StartupRetry.RunAsync(async () => { await installer.EnsureServedAsync(ct); return true; }, logger, ct);
        }
        catch (CrdInstallException e)
        {
            throw new StartupException(e.Message, e);
        }

        if (!await StartupRetry.RunAsync(() => ApiDiscovery.ServesAsync(app.Services.GetRequiredService<IKubernetes>(), ApiDiscovery.SnapshotGroup, "v1", ct), logger, ct))
        {
            logger.Warning("The cluster does not serve {Group}/v1: root volumes are copied instead of snapshotted", ApiDiscovery.SnapshotGroup);
        }

        await app.RunAsync(ct);
    }

    public static WebApplication Build(OperatorOptions options, Logger logger, KubernetesClientConfiguration clientConfiguration)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Services.AddSerilog(logger, dispose: false);
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = options.ShutdownTimeout);
        builder.WebHost.UseUrls($"http://{options.BindAddress}:{options.HealthPort}");
        builder.Services.AddSingleton(options);
        builder.Services.AddSingleton<IKubernetes>(services => ApiClients.Create(clientConfiguration, services.GetRequiredService<TimeProvider>()));
        builder.Services.AddSingleton<CrdInstaller>();
        builder.Services.AddSingleton<ApiServerHealthCheck>();
        builder.Services.AddControllerRuntime(new LeaderElectionSettings
        {
            Enabled = options.LeaderElection,
            Namespace = options.LeaderElectionNamespace ?? options.WatchNamespace ?? "default",
            ShutdownTimeout = options.ShutdownTimeout,
            LeaseName = ObjectLabels.LeaderLease,
            Identity = $"{Environment.GetEnvironmentVariable("POD_NAME") ?? Environment.MachineName}_{Guid.NewGuid():N}",
        });
        builder.Services.AddLifecycle(new LifecycleSettings(new PodSettings(options.OperatorImage) { BinhostServiceType = options.BinhostServiceType }), options.WatchNamespace);
        builder.Services.AddHostedService(Controllers.Register);
        builder.Services.AddHealthChecks()
            .AddCheck<ApiServerHealthCheck>("apiserver", tags: ["ready"])
            .Add(new HealthCheckRegistration("caches", sp => new CachesSyncedHealthCheck(sp.GetRequiredService<ControllerManager>()), null, ["ready"]));

        var app = builder.Build();
        app.MapHealthChecks("/healthz", new HealthCheckOptions { Predicate = _ => false });
        app.MapHealthChecks("/readyz", new HealthCheckOptions { Predicate = check => check.Tags.Contains("ready") });
        app.MapMetrics("/metrics", app.Services.GetRequiredService<CollectorRegistry>());
        app.Lifetime.ApplicationStarted.Register(() => logger.Information("Serving /healthz, /readyz and /metrics on {Urls}", string.Join(", ", app.Urls)));
        app.Lifetime.ApplicationStopping.Register(() => logger.Information("Shutting down: draining in-flight work"));
        return app;
    }
}

/// <summary>Readiness: every informer has listed once, so reconcilers see the whole cluster.</summary>
internal sealed class CachesSyncedHealthCheck(ControllerManager manager) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(manager.HasSynced ? HealthCheckResult.Healthy("caches synced") : HealthCheckResult.Unhealthy("caches not synced yet"));
}
