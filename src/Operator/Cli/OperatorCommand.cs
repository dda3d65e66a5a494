using System.CommandLine;
using Gentoo.Operator.Hosting;
using Serilog.Events;

namespace Gentoo.Operator.Cli;

/// <summary>The root command: run the operator. Every option falls back to an environment variable, for Deployments.</summary>
public static class OperatorCommand
{
    private static readonly Option<string?> Namespace = new("--namespace", "-n")
    {
        Description = "Reconcile only this namespace (env WATCH_NAMESPACE); all namespaces when empty",
        DefaultValueFactory = _ => Env("WATCH_NAMESPACE"),
    };

    private static readonly Option<bool> LeaderElect = new("--leader-elect")
    {
        Description = "Run reconcilers only while holding the leader Lease (env LEADER_ELECT, default true)",
        DefaultValueFactory = _ => Env("LEADER_ELECT") is not { } value || ParseBool(value, "LEADER_ELECT"),
    };

    private static readonly Option<string?> LeaderElectionNamespace = new("--leader-election-namespace")
    {
        Description = "Namespace of the leader Lease (env POD_NAMESPACE)",
        DefaultValueFactory = _ => Env("POD_NAMESPACE"),
    };

    private static readonly Option<int> HealthPort = new("--health-port")
    {
        Description = "Port serving /healthz, /readyz and /metrics (env HEALTH_PORT)",
        DefaultValueFactory = _ => Env("HEALTH_PORT") is { } value ? ParsePort(value, "HEALTH_PORT") : 8080,
    };

    private static readonly Option<string> BindAddress = new("--bind-address")
    {
        Description = "Address the health port listens on (env BIND_ADDRESS)",
        DefaultValueFactory = _ => Env("BIND_ADDRESS") ?? "0.0.0.0",
    };

    private static readonly Option<LogEventLevel> LogLevel = new("--log-level")
    {
        Description = "Verbose, Debug, Information, Warning, Error or Fatal (env LOG_LEVEL)",
        DefaultValueFactory = _ => Env("LOG_LEVEL") is { } value ? ParseLevel(value) : LogEventLevel.Information,
    };

    private static readonly Option<bool> JsonLogs = new("--json-logs")
    {
        Description = "Log one JSON object a line (env JSON_LOGS)",
        DefaultValueFactory = _ => Env("JSON_LOGS") is { } value && ParseBool(value, "JSON_LOGS"),
    };

    private static readonly Option<string?> Kubeconfig = new("--kubeconfig")
    {
        Description = "Kubeconfig file(s); default in-cluster config, then KUBECONFIG, then ~/.kube/config",
    };

    private static readonly Option<string?> Context = new("--context")
    {
        Description = "Kubeconfig context to use instead of the current one",
    };

    private static readonly Option<bool> InstallCrds = new("--install-crds")
    {
        Description = "Apply the CustomResourceDefinitions with server-side apply before starting (env INSTALL_CRDS)",
        DefaultValueFactory = _ => Env("INSTALL_CRDS") is { } value && ParseBool(value, "INSTALL_CRDS"),
    };

    public static RootCommand Create()
    {
        var root = new RootCommand("gentoo-builder operator: runs a Gentoo build tree on Kubernetes and serves binary packages");
        foreach (var option in new Option[] { Namespace, LeaderElect, LeaderElectionNamespace, HealthPort, BindAddress, LogLevel, JsonLogs, Kubeconfig, Context, InstallCrds })
        {
            root.Options.Add(option);
        }

        root.SetAction(async (result, ct) =>
        {
            OperatorOptions options;
            try
            {
                options = Read(result);
            }
            catch (StartupException e)
            {
                await Console.Error.WriteLineAsync($"gentoo-operator: {e.Message}");
                return 2;
            }

            using var logger = OperatorHost.CreateLogger(options);
            try
            {
                await OperatorHost.RunAsync(options, logger, ct);
                return 0;
            }
            catch (StartupException e)
            {
                await Console.Error.WriteLineAsync($"gentoo-operator: {e.Message}");
                return 1;
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return 0;
            }
        });
        root.Subcommands.Add(GenerateCrdsCommand.Create());
        return root;
    }

    public static OperatorOptions Read(ParseResult result) => new()
    {
        WatchNamespace = NullIfEmpty(result.GetValue(Namespace)),
        LeaderElection = result.GetValue(LeaderElect),
        LeaderElectionNamespace = NullIfEmpty(result.GetValue(LeaderElectionNamespace)),
        HealthPort = result.GetValue(HealthPort),
        BindAddress = result.GetValue(BindAddress) ?? "0.0.0.0",
        LogLevel = result.GetValue(LogLevel),
        JsonLogs = result.GetValue(JsonLogs),
        Kubeconfig = NullIfEmpty(result.GetValue(Kubeconfig)),
        Context = NullIfEmpty(result.GetValue(Context)),
        InstallCrds = result.GetValue(InstallCrds),
    };

    private static string? Env(string name) => NullIfEmpty(Environment.GetEnvironmentVariable(name));

    private static string? NullIfEmpty(string? value) => string.IsNullOrWhiteSpace(value) ? null : value.Trim();

    private static bool ParseBool(string value, string variable) => value.ToLowerInvariant() switch
    {
        "1" or "true" or "yes" or "on" => true,
        "0" or "false" or "no" or "off" => false,
        _ => throw new StartupException($"{variable}={value} is not a boolean: use true or false"),
    };

    private static int ParsePort(string value, string variable) =>
        int.TryParse(value, out var port) && port is > 0 and < 65536
            ? port
            : throw new StartupException($"{variable}={value} is not a port: use a number from 1 to 65535");

    private static LogEventLevel ParseLevel(string value) =>
        Enum.TryParse<LogEventLevel>(value, ignoreCase: true, out var level)
            ? level
            : throw new StartupException($"LOG_LEVEL={value} is not a log level: use one of {string.Join(", ", Enum.GetNames<LogEventLevel>())}");
}
