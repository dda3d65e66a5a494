using System.CommandLine;
using System.Globalization;
using Gentoo.Operator.Hosting;
using Serilog.Events;

namespace Gentoo.Operator.Cli;

/// <summary>The root command: run the operator. Every option falls back to an environment variable, for Deployments.</summary>
public static class OperatorCommand
{
    // Options carry no defaults of their own: Read() falls back to the environment, then to the built-in default,
    // so a bad environment value becomes one clear line instead of a parser exception.
    private static readonly Option<string?> Namespace = new("--namespace", "-n")
    {
        Description = "Reconcile only this namespace (env WATCH_NAMESPACE); all namespaces when empty",
    };

    private static readonly Option<bool?> LeaderElect = new("--leader-elect")
    {
        Description = "Run reconcilers only while holding the leader Lease (env LEADER_ELECT, default true)",
    };

    private static readonly Option<string?> LeaderElectionNamespace = new("--leader-election-namespace")
    {
        Description = "Namespace of the leader Lease (env POD_NAMESPACE)",
    };

    private static readonly Option<int?> HealthPort = new("--health-port")
    {
        Description = "Port serving /healthz, /readyz and /metrics (env HEALTH_PORT, default 8080)",
    };

    private static readonly Option<string?> BindAddress = new("--bind-address")
    {
        Description = "Address the health port listens on (env BIND_ADDRESS, default 0.0.0.0)",
    };

    private static readonly Option<string?> LogLevel = new("--log-level")
    {
        Description = "Verbose, Debug, Information, Warning, Error or Fatal (env LOG_LEVEL, default Information)",
    };

    private static readonly Option<bool?> JsonLogs = new("--json-logs")
    {
        Description = "Log one JSON object a line (env JSON_LOGS)",
    };

    private static readonly Option<string?> Kubeconfig = new("--kubeconfig")
    {
        Description = "Kubeconfig file; default in-cluster config, then KUBECONFIG, then ~/.kube/config",
    };

    private static readonly Option<string?> Context = new("--context")
    {
        Description = "Kubeconfig context to use instead of the current one",
    };

    private static readonly Option<string?> OperatorImage = new("--operator-image")
    {
        Description = "This operator's image, from which build pods copy the agent (env OPERATOR_IMAGE, default " + Entities.ProductInfo.DefaultImage + ")",
    };

    private static readonly Option<bool?> InstallCrds = new("--install-crds")
    {
        Description = "Apply the CustomResourceDefinitions with server-side apply before starting (env INSTALL_CRDS)",
    };

    public static RootCommand Create()
    {
        var root = new RootCommand("gentoo-builder operator: runs a Gentoo build tree on Kubernetes and serves binary packages");
        foreach (var option in new Option[] { Namespace, LeaderElect, LeaderElectionNamespace, HealthPort, BindAddress, LogLevel, JsonLogs, Kubeconfig, Context, InstallCrds, OperatorImage })
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
        root.Subcommands.Add(PortageCommands.Classify());
        root.Subcommands.Add(PortageCommands.KernelRequirement());
        root.Subcommands.Add(BinhostCommand.Create());
        root.Subcommands.Add(LocalCommand.Create());
        return root;
    }

    /// <summary>The options from the command line, else the environment, else defaults; bad values throw <see cref="StartupException"/>.</summary>
    public static OperatorOptions Read(ParseResult result) => new()
    {
        WatchNamespace = NullIfEmpty(result.GetValue(Namespace)) ?? Env("WATCH_NAMESPACE"),
        LeaderElection = result.GetValue(LeaderElect) ?? EnvBool("LEADER_ELECT") ?? true,
        LeaderElectionNamespace = NullIfEmpty(result.GetValue(LeaderElectionNamespace)) ?? Env("POD_NAMESPACE"),
        HealthPort = result.GetValue(HealthPort) is { } port ? ValidPort(port.ToString(CultureInfo.InvariantCulture), "--health-port")
            : Env("HEALTH_PORT") is { } envPort ? ValidPort(envPort, "HEALTH_PORT") : 8080,
        BindAddress = NullIfEmpty(result.GetValue(BindAddress)) ?? Env("BIND_ADDRESS") ?? "0.0.0.0",
        LogLevel = NullIfEmpty(result.GetValue(LogLevel)) is { } level ? ValidLevel(level, "--log-level")
            : Env("LOG_LEVEL") is { } envLevel ? ValidLevel(envLevel, "LOG_LEVEL") : LogEventLevel.Information,
        JsonLogs = result.GetValue(JsonLogs) ?? EnvBool("JSON_LOGS") ?? false,
        Kubeconfig = NullIfEmpty(result.GetValue(Kubeconfig)),
        Context = NullIfEmpty(result.GetValue(Context)),
        InstallCrds = result.GetValue(InstallCrds) ?? EnvBool("INSTALL_CRDS") ?? false,
        OperatorImage = NullIfEmpty(result.GetValue(OperatorImage)) ?? Env("OPERATOR_IMAGE") ?? Entities.ProductInfo.DefaultImage,
    };

    private static bool? EnvBool(string variable) => Env(variable) is { } value ? ValidBool(value, variable) : null;

    private static string? Env(string name) => NullIfEmpty(Environment.GetEnvironmentVariable(name));

    private static string? NullIfEmpty(string? value) => string.IsNullOrWhiteSpace(value) ? null : value.Trim();

    private static bool ValidBool(string value, string variable) => value.ToLowerInvariant() switch
    {
        "1" or "true" or "yes" or "on" => true,
        "0" or "false" or "no" or "off" => false,
        _ => throw new StartupException($"{variable}={value} is not a boolean: use true or false"),
    };

    private static int ValidPort(string value, string variable) =>
        int.TryParse(value, out var port) && port is > 0 and < 65536
            ? port
            : throw new StartupException($"{variable}={value} is not a port: use a number from 1 to 65535");

    private static LogEventLevel ValidLevel(string value, string source) =>
        Enum.TryParse<LogEventLevel>(value, ignoreCase: true, out var level) && Enum.IsDefined(level)
            ? level
            : throw new StartupException($"{source}={value} is not a log level: use one of {string.Join(", ", Enum.GetNames<LogEventLevel>())}");
}
