using Gentoo.Connection;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using Docker.DotNet;
using Gentoo.ApiServer;
using Gentoo.ApiServer.Yaml;
using Gentoo.Crds;
using Gentoo.Local;
using k8s;
using Serilog.Core;
using Serilog.Extensions.Logging;

namespace Gentoo.Operator.Hosting;

/// <summary>How local mode runs: where its state lives, where it listens, what it publishes.</summary>
public sealed record LocalOptions
{
    public required LocalState State { get; init; }

    /// <summary>The embedded API server's port on 127.0.0.1; fixed, so the kubeconfig stays valid across restarts.</summary>
    public int ApiPort { get; init; } = 16443;

    /// <summary>Where LoadBalancer Services (the binhosts) are published: loopback, or an address the desktops reach.</summary>
    public string ServiceAddress { get; init; } = "127.0.0.1";

    /// <summary>This machine's Node name.</summary>
    public string NodeName { get; init; } = Environment.MachineName.ToLowerInvariant();

    /// <summary>A folder (or file) of manifests applied once the API is up, as `kubectl apply -f` would.</summary>
    public string? Apply { get; init; }

    public Uri? DockerEndpoint { get; init; }

    public required OperatorOptions Operator { get; init; }
}

/// <summary>
/// Local mode: the embedded API server on loopback, persisted in the state directory; the Docker engine as kubelet,
/// controller manager and load balancer; and the operator's controllers, unchanged, against it.
/// </summary>
public static class LocalHost
{
    public static async Task RunAsync(LocalOptions options, Logger logger, CancellationToken ct)
    {
        using var loggers = new SerilogLoggerFactory(logger);
        using var held = options.State.Lock();
        using var docker = await LocalDocker.ConnectAsync(options.DockerEndpoint, ct);
        await WarnIfImageMissingAsync(docker, options.Operator.OperatorImage, logger, ct);

        var credentials = ServingCredentials.LoadOrCreate(options.State.Pki, TimeProvider.System);
        await using var server = await StartServerAsync(options, credentials, docker, ct);
        options.State.WriteKubeconfig(server.BaseAddress, credentials);
        var clientConfiguration = server.ClientConfiguration();
        using var kube = ApiClients.Create(clientConfiguration, TimeProvider.System);
        await new CrdInstaller(kube, loggers.CreateLogger<CrdInstaller>()).InstallAsync(ct);
        if (options.Apply is { } manifests)
        {
            await ApplyAsync(kube, server, credentials.Token, manifests, logger, ct);
        }

        var kubeletOptions = new DockerKubeletOptions(options.NodeName, options.State.Kubelet) { ServiceAddress = options.ServiceAddress };
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var kubelet = Task.Run(() => new DockerKubelet(kube, docker, kubeletOptions, TimeProvider.System, loggers.CreateLogger<DockerKubelet>()).RunAsync(stop.Token), CancellationToken.None);
        var workloads = Task.Run(() => new LocalWorkloads(kube, docker, kubeletOptions, loggers.CreateLogger<LocalWorkloads>(),
            new LocalSnapshots(kube, docker, kubeletOptions, options.Operator.OperatorImage, TimeProvider.System, loggers.CreateLogger<LocalSnapshots>())).RunAsync(stop.Token), CancellationToken.None);

        logger.Information("Local mode is up: API server {Server}, state in {State}", server.BaseAddress, options.State.Root);
        await Console.Out.WriteLineAsync($"""

            gentoo-builder runs on this machine ({options.NodeName}); state in {options.State.Root}.
              export KUBECONFIG={options.State.Kubeconfig}
              kubectl apply -f config/samples/
              kubectl gentoo status
            Binhosts are published on {options.ServiceAddress} (status.binhostUrl). `gentoo-operator local down` stops this; state survives.

            """);
        try
        {
            await OperatorHost.RunAsync(options.Operator, logger, clientConfiguration, ct);
        }
        finally
        {
            // Containers keep running: a build goes on while local mode is down, and the next `local up` adopts it.
            await stop.CancelAsync();
            await Task.WhenAll(kubelet, workloads).ContinueWith(_ => { }, TaskScheduler.Default);
        }
    }

    private static async Task<EmbeddedApiServer> StartServerAsync(LocalOptions options, ServingCredentials credentials, IDockerClient docker, CancellationToken ct)
    {
        try
        {
            return await EmbeddedApiServer.StartAsync(new EmbeddedApiServerOptions
            {
                Endpoint = new IPEndPoint(IPAddress.Loopback, options.ApiPort),
                StateDirectory = options.State.Api,
                Credentials = credentials,
                PodLogs = new DockerPodLogs(docker),
                PodExec = new DockerPodExec(docker),
                GitVersion = "v1.26.15-gentoo-local",
            }, ct);
        }
        catch (IOException e) when (e.InnerException is SocketException { SocketErrorCode: SocketError.AddressAlreadyInUse } || e.Message.Contains("address already in use", StringComparison.OrdinalIgnoreCase))
        {
            throw new LocalModeException($"port {options.ApiPort} on 127.0.0.1 is in use by another program: choose a free one with --api-port");
        }
        catch (InvalidDataException e)
        {
            throw new LocalModeException($"the state in {options.State.Api} cannot be read: {e.Message}");
        }
    }

    private static async Task WarnIfImageMissingAsync(IDockerClient docker, string image, Logger logger, CancellationToken ct)
    {
        try
        {
            await docker.Images.InspectImageAsync(image, ct);
        }
        catch (DockerImageNotFoundException)
        {
            logger.Warning("The operator image {Image} is not in this machine's Docker: build pods wait for it (ImagePullBackOff) until it is pulled "
                + "or built here (docker build -t {Image} .)", image, image);
        }
    }

    /// <summary>Server-side apply of every object in the manifests, as `kubectl apply --server-side -f` does.</summary>
    private static async Task ApplyAsync(Kubernetes kube, EmbeddedApiServer server, string token, string path, Logger logger, CancellationToken ct)
    {
        var files = Directory.Exists(path)
            ? Directory.GetFiles(path).Where(f => f.EndsWith(".yaml", StringComparison.Ordinal) || f.EndsWith(".yml", StringComparison.Ordinal) || f.EndsWith(".json", StringComparison.Ordinal)).Order(StringComparer.Ordinal).ToArray()
            : File.Exists(path) ? [path] : throw new LocalModeException($"-f {path}: no such file or folder");
        foreach (var file in files)
        {
            IReadOnlyList<JsonNode> documents;
            try
            {
                documents = YamlJson.ReadDocuments(await File.ReadAllTextAsync(file, ct));
            }
            catch (Exception e) when (e is YamlDotNet.Core.YamlException or FormatException)
            {
                throw new LocalModeException($"{file}: not YAML ({e.Message})");
            }

            foreach (var document in documents.OfType<JsonObject>())
            {
                var apiVersion = document["apiVersion"]?.GetValue<string>() ?? throw new LocalModeException($"{file}: an object without apiVersion");
                var kind = document["kind"]?.GetValue<string>() ?? throw new LocalModeException($"{file}: an object without kind");
                var name = document["metadata"]?["name"]?.GetValue<string>() ?? throw new LocalModeException($"{file}: a {kind} without metadata.name");
                var (group, version) = apiVersion.Split('/') is [var g, var v] ? (g, v) : ("", apiVersion);
                var type = server.Store.Types().FirstOrDefault(t => t.Group == group && t.Version == version && t.Kind == kind)
                    ?? throw new LocalModeException($"{file}: {apiVersion} {kind} is not served here");
                var ns = type.Namespaced ? document["metadata"]?["namespace"]?.GetValue<string>() ?? "default" : null;
                var url = $"{(group.Length == 0 ? "api" : "apis/" + group)}/{version}/{(ns is null ? "" : $"namespaces/{ns}/")}{type.Plural}/{name}?fieldManager=gentoo-local-up&force=true";
                using var request = new HttpRequestMessage(HttpMethod.Patch, new Uri(new Uri(kube.BaseUri.ToString().TrimEnd('/') + "/"), url))
                {
                    Content = new StringContent(document.ToJsonString(), Encoding.UTF8, new MediaTypeHeaderValue("application/apply-patch+yaml")),
                };
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
                using var response = await kube.HttpClient.SendAsync(request, ct);
                if (!response.IsSuccessStatusCode)
                {
                    var status = JsonNode.Parse(await response.Content.ReadAsStringAsync(ct));
                    throw new LocalModeException($"{file}: {kind} {name} was refused: {status?["message"]?.GetValue<string>() ?? response.ReasonPhrase}");
                }

                logger.Information("Applied {Kind} {Namespace}/{Name} from {File}", kind, ns ?? "", name, file);
            }
        }
    }
}
