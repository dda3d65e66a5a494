using System.CommandLine;
using System.Diagnostics.CodeAnalysis;
using System.Net;
using Gentoo.Local;
using Gentoo.Operator.Hosting;
using Serilog.Events;

namespace Gentoo.Operator.Cli;

/// <summary>local up / local down: gentoo-builder on one machine with Docker, no cluster.</summary>
public static class LocalCommand
{
    internal const string Feature = "Gentoo.Operator.LocalMode";

    /// <summary>
    /// Whether this executable has local mode. The cluster image's is published without it (<c>-p:LocalMode=false</c>, see
    /// the Dockerfile and Operator.csproj): nothing on a cluster runs local mode, and Docker's client, the embedded API
    /// server and its TLS were a quarter of the native executable (44 -> 33 MB) and of the type data it unpacks into memory.
    /// </summary>
    [FeatureSwitchDefinition(Feature)]
    public static bool IsAvailable => !AppContext.TryGetSwitch(Feature, out var available) || available;

    /// <summary>The <c>local</c> command: local mode where this executable has it, else one that says where to get it.</summary>
    public static Command Create() => IsAvailable ? LocalMode() : Unavailable();

    private static Command Unavailable()
    {
        var local = new Command("local", "Not in this executable (published for a cluster): run local mode from a checkout") { TreatUnmatchedTokensAsErrors = false };
        local.SetAction(async (_, _) =>
        {
            await Console.Error.WriteLineAsync("gentoo-operator local: this executable was published for a cluster, without local mode; " +
                "run local mode from a checkout (dotnet run --project src/Operator -- local up) or publish it without -p:LocalMode=false");
            return 2;
        });
        return local;
    }

    private static Command LocalMode()
    {
        var stateDir = new Option<string?>("--state-dir") { Description = "Where objects, credentials and the kubeconfig live (default $XDG_DATA_HOME/gentoo-builder, else ~/.local/share/gentoo-builder)" };
        var apiPort = new Option<int>("--api-port") { Description = "The embedded API server's port on 127.0.0.1", DefaultValueFactory = _ => 16443 };
        var serviceAddress = new Option<string>("--service-address") { Description = "The address binhosts are published on: 127.0.0.1, or one the desktops reach", DefaultValueFactory = _ => "127.0.0.1" };
        var nodeName = new Option<string?>("--node-name") { Description = "This machine's Node name (default: the host name)" };
        var apply = new Option<string?>("--filename", "-f") { Description = "Manifests (a file or a folder) to apply once the API is up" };
        var operatorImage = new Option<string>("--operator-image") { Description = "The operator image build pods copy the agent from", DefaultValueFactory = _ => Entities.ProductInfo.DefaultImage };
        var healthPort = new Option<int>("--health-port") { Description = "The operator's /healthz, /readyz and /metrics port on 127.0.0.1", DefaultValueFactory = _ => 18080 };
        var logLevel = new Option<LogEventLevel>("--log-level") { Description = "Verbose, Debug, Information, Warning, Error or Fatal", DefaultValueFactory = _ => LogEventLevel.Information };
        var up = new Command("up", "Run gentoo-builder on this machine's Docker engine, in the foreground, with an embedded API server for kubectl")
        {
            stateDir, apiPort, serviceAddress, nodeName, apply, operatorImage, healthPort, logLevel,
        };
        up.SetAction(async (result, ct) =>
        {
            if (!IPAddress.TryParse(result.GetValue(serviceAddress), out _))
            {
                await Console.Error.WriteLineAsync($"gentoo-operator local up: --service-address {result.GetValue(serviceAddress)} is not an IP address (e.g. 127.0.0.1 or 192.168.1.10)");
                return 2;
            }

            var operatorOptions = new OperatorOptions
            {
                LeaderElection = false,
                BindAddress = "127.0.0.1",
                HealthPort = result.GetValue(healthPort),
                LogLevel = result.GetValue(logLevel),
                OperatorImage = result.GetValue(operatorImage)!,
                BinhostServiceType = "LoadBalancer",
            };
            var options = new LocalOptions
            {
                State = State(result.GetValue(stateDir)),
                ApiPort = result.GetValue(apiPort),
                ServiceAddress = result.GetValue(serviceAddress)!,
                NodeName = result.GetValue(nodeName) ?? Environment.MachineName.ToLowerInvariant(),
                Apply = result.GetValue(apply) is { } path ? Path.GetFullPath(path) : null,
                Operator = operatorOptions,
            };
            using var logger = OperatorHost.CreateLogger(operatorOptions);
            try
            {
                await LocalHost.RunAsync(options, logger, ct);
                return 0;
            }
            catch (Exception e) when (e is LocalModeException or StartupException)
            {
                await Console.Error.WriteLineAsync($"gentoo-operator local up: {e.Message}");
                return 1;
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return 0;
            }
        });

        var downStateDir = new Option<string?>("--state-dir") { Description = "The state directory `local up` runs from" };
        var down = new Command("down", "Stop a running `local up`; its state, volumes and packages stay") { downStateDir };
        down.SetAction(async (result, ct) =>
        {
            var state = State(result.GetValue(downStateDir));
            try
            {
                var stopped = await state.StopAsync(TimeSpan.FromSeconds(60), ct);
                await Console.Out.WriteLineAsync(stopped ? $"local mode stopped; state kept in {state.Root}" : $"local mode does not run from {state.Root}");
                return 0;
            }
            catch (LocalModeException e)
            {
                await Console.Error.WriteLineAsync($"gentoo-operator local down: {e.Message}");
                return 1;
            }
        });
        return new Command("local", "gentoo-builder on one machine with Docker, no cluster") { up, down };
    }

    private static LocalState State(string? directory) => directory is null ? LocalState.Default() : new LocalState(Path.GetFullPath(directory));
}
