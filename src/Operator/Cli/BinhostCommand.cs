using Gentoo.Connection;
using System.CommandLine;
using Gentoo.Binhost;
using Gentoo.Operator.Hosting;
using k8s;
using Microsoft.Extensions.Logging;
using Serilog;
using Serilog.Extensions.Logging;

namespace Gentoo.Operator.Cli;

/// <summary>binhost: serves a PKGDIR to Portage clients (the process a builder's binhost Deployment runs).</summary>
public static class BinhostCommand
{
    public static Command Create()
    {
        var pkgdir = new Option<DirectoryInfo>("--pkgdir") { Description = "The binary package directory to serve", Required = true };
        var name = new Option<string>("--name") { Description = "The binrepos.conf section name (default: gentoo-builder)", DefaultValueFactory = _ => "gentoo-builder" };
        var port = new Option<int>("--port") { Description = "The port to listen on", DefaultValueFactory = _ => 8080 };
        var bind = new Option<string>("--bind-address") { Description = "The address to listen on", DefaultValueFactory = _ => "0.0.0.0" };
        var key = new Option<FileInfo?>("--signing-key") { Description = "The armored public key the packages are signed with; without it they are served as unsigned" };
        var token = new Option<FileInfo?>("--on-demand-token") { Description = "A file holding the bearer token of build requests (POST /build); without it builds on demand are off" };
        var ns = new Option<string?>("--namespace") { Description = "The namespace of the builder (--name): its runs are on the page, and build requests create them there" };
        var maxRuns = new Option<int>("--max-runs-per-hour") { Description = "How many BuildRuns requests may create in any hour", DefaultValueFactory = _ => 6 };
        var kubeconfig = new Option<string?>("--kubeconfig") { Description = "The kubeconfig for builds on demand outside a cluster (default: in-cluster, else KUBECONFIG)" };
        var command = new Command("binhost", "Serve binary packages over HTTP with a current Packages index") { pkgdir, name, port, bind, key, token, ns, maxRuns, kubeconfig };
        command.SetAction(async (result, ct) =>
        {
            BinhostServer.RunSocketCompletionsInline(); // before any socket of this process
            var directory = result.GetValue(pkgdir)!;
            if (!directory.Exists)
            {
                await Console.Error.WriteLineAsync($"gentoo-operator binhost: --pkgdir {directory.FullName} does not exist (is the binpkgs volume mounted?)");
                return 2;
            }

            var options = new BinhostOptions(directory.FullName, result.GetValue(name)!, result.GetValue(bind)!, result.GetValue(port), result.GetValue(key)?.FullName)
            {
                OnDemandTokenFile = result.GetValue(token)?.FullName,
            };
            if (options.OnDemandTokenFile is not null && string.IsNullOrEmpty(result.GetValue(ns)))
            {
                await Console.Error.WriteLineAsync("gentoo-operator binhost: --on-demand-token needs --namespace (the builder's namespace)");
                return 2;
            }

            // With a namespace the binhost talks to the API server: for its page's runs, and to create runs on demand.
            // Only builds on demand need it; without them a binhost that cannot reach it still serves.
            KubernetesClientConfiguration? cluster = null;
            if (!string.IsNullOrEmpty(result.GetValue(ns)))
            {
                try
                {
                    cluster = ClusterConnection.LoadConfiguration(new OperatorOptions { Kubeconfig = result.GetValue(kubeconfig) }, TimeProvider.System);
                }
                catch (StartupException e) when (options.OnDemandTokenFile is not null)
                {
                    await Console.Error.WriteLineAsync($"gentoo-operator binhost: builds on demand need the API server: {e.Message}");
                    return 2;
                }
                catch (StartupException e)
                {
                    await Console.Error.WriteLineAsync($"gentoo-operator binhost: the page shows no runs: {e.Message}");
                }
            }

            using var kube = cluster is null ? null : ApiClients.Create(cluster, TimeProvider.System);
            using var onDemand = kube is null || options.OnDemandTokenFile is null ? null : new OnDemandBuilds(kube, result.GetValue(ns)!, options.Name, result.GetValue(maxRuns), TimeProvider.System);
            Func<CancellationToken, Task<IReadOnlyList<PageRun>>>? runs = kube is null ? null : token => PageRuns.LatestAsync(kube, result.GetValue(ns)!, options.Name, 10, token);
            // The operator's log format, one line per event; ASP.NET Core's own chatter only from warnings up.
            var logging = new OperatorOptions();
            using var logger = OperatorHost.CreateLogger(logging);
            var accessLines = OperatorHost.AccessLines(logging, TimeProvider.System.LocalTimeZone);
            await using var app = BinhostServer.Build(options, TimeProvider.System, onDemand, runs, builder => builder.AddSerilog(logger)
                // Serilog's provider takes every level of every category (its own rule, which beats the binhost's).
                .AddFilter<SerilogLoggerProvider>(BinhostServer.HostingDiagnostics, LogLevel.None), accessLines);
            app.Lifetime.ApplicationStarted.Register(() => logger.ForContext(Serilog.Core.Constants.SourceContextPropertyName, "Gentoo.Binhost").Information(
                "Serving {PkgDir} as {Name} on {Urls} ({Signing}, builds on demand {OnDemand})", options.PackageDirectory, options.Name, string.Join(", ", app.Urls),
                options.PublicKeyPath is null ? "unsigned" : "signed", onDemand is null ? "off" : "on"));
            await app.RunAsync(ct);
            return 0;
        });
        return command;
    }
}
