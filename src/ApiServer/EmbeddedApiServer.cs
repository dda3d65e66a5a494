using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json.Nodes;
using Gentoo.ApiServer.Api;
using Gentoo.ApiServer.Patch;
using Gentoo.ApiServer.Schema;
using Gentoo.ApiServer.Yaml;
using k8s;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Gentoo.ApiServer;

/// <summary>Options of an embedded API server.</summary>
public sealed record EmbeddedApiServerOptions
{
    /// <summary>Serve snapshot.storage.k8s.io (VolumeSnapshots); off models a cluster without the snapshot CRDs.</summary>
    public bool VolumeSnapshots { get; init; } = true;

    /// <summary>How often a watch that asked for bookmarks gets one.</summary>
    public TimeSpan BookmarkInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>The version /version reports.</summary>
    public string GitVersion { get; init; } = "v1.26.15-gentoo-embedded";

    /// <summary>Where it listens; loopback unless the caller chooses otherwise.</summary>
    public IPEndPoint Endpoint { get; init; } = new(IPAddress.Loopback, 0);

    /// <summary>Where every object is persisted; null keeps them in memory only.</summary>
    public string? StateDirectory { get; init; }

    /// <summary>
    /// TLS with this serving certificate, and the bearer token every request but the public health and version paths
    /// must carry; null serves plain HTTP to anyone, as the tests' in-memory server does.
    /// </summary>
    public ServingCredentials? Credentials { get; init; }

    /// <summary>Sees every request before it is answered and may answer it with an error instead.</summary>
    public IRequestInterceptor? Interceptor { get; init; }

    /// <summary>Serves GET pods/NAME/log; without one the server answers that it has no logs.</summary>
    public IPodLogSource? PodLogs { get; init; }

    /// <summary>Serves pods/NAME/exec; without one the server answers that it runs no commands.</summary>
    public IPodExec? PodExec { get; init; }

    /// <summary>How long an Event is kept after its last write: kube-apiserver's --event-ttl, whose default this is.</summary>
    public TimeSpan EventTtl { get; init; } = TimeSpan.FromHours(1);
}

/// <summary>Looks at a request first: may delay it or answer it with an error, as a proxy or an overloaded server does.</summary>
public interface IRequestInterceptor
{
    Task<ApiException?> InterceptAsync(string method, string path, CancellationToken ct);
}

/// <summary>What a kubelet serves for pods/NAME/log.</summary>
public interface IPodLogSource
{
    /// <summary>Writes the log of one container of <paramref name="pod"/> to <paramref name="output"/>, and while it runs, what follows when <paramref name="follow"/>.</summary>
    Task CopyAsync(JsonObject pod, string container, bool follow, Stream output, CancellationToken ct);
}

/// <summary>
/// A Kubernetes API server on loopback that speaks the real REST protocol to real clients (KubernetesClient, kubectl):
/// CRUD, status subresources, watches with resourceVersion and bookmarks, merge/JSON patch and apply, CRDs with schema
/// validation and defaulting, garbage collection, pod logs from a log source. Local mode runs on it, persisted to a state
/// directory, with TLS and a bearer token; the test suite runs on it in memory.
/// </summary>
public sealed class EmbeddedApiServer : IAsyncDisposable
{
    private static readonly HashSet<string> PublicPaths = ["/version", "/healthz", "/readyz", "/livez"];
    private readonly WebApplication app;
    private readonly EmbeddedApiServerOptions options;
    private readonly ConcurrentDictionary<string, long> requestCounts = new();
    private readonly ConcurrentDictionary<(string Verb, string Group, string Resource), byte> access = new();
    private readonly ConcurrentDictionary<Guid, string> openWatches = new();
    private readonly Lock watchGate = new();
    private CancellationTokenSource watches = new();
    private readonly CancellationTokenSource stopping = new();
    private Task expiringEvents = Task.CompletedTask;

    private EmbeddedApiServer(WebApplication app, ObjectStore store, EmbeddedApiServerOptions options)
    {
        this.app = app;
        this.options = options;
        Store = store;
    }

    public ObjectStore Store { get; }

    public Uri BaseAddress { get; private set; } = null!;

    /// <summary>Requests answered so far, by verb (list, watch, get, create, update, patch, delete).</summary>
    public IReadOnlyDictionary<string, long> RequestCounts => requestCounts;

    /// <summary>Starts listening; a state directory that cannot be read, or an endpoint in use, throws.</summary>
    public static async Task<EmbeddedApiServer> StartAsync(EmbeddedApiServerOptions? options = null, CancellationToken ct = default)
    {
        options ??= new EmbeddedApiServerOptions();
        var journal = options.StateDirectory is { } directory ? ObjectJournal.Open(directory) : null;
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(options.Endpoint, listen =>
        {
            if (options.Credentials is { } credentials)
            {
                listen.Protocols = HttpProtocols.Http1AndHttp2;
                listen.UseHttps(credentials.Server);
            }
        }));
        var app = builder.Build();
        var store = new ObjectStore(TimeProvider.System, journal);
        foreach (var type in ResourceType.BuiltIn(options.VolumeSnapshots))
        {
            store.Register(type);
        }

        var server = new EmbeddedApiServer(app, store, options);
        var crdType = store.FindType("apiextensions.k8s.io", "v1", "customresourcedefinitions")!;
        foreach (var crd in store.List(crdType, null, LabelSelector.Everything, FieldSelector.Parse(null)).Items)
        {
            // Restored CRDs serve their resources again, which hands their restored objects to the store.
            server.AfterWrite(crdType, crd);
        }

        app.UseWebSockets();
        app.Run(server.HandleAsync);
        await app.StartAsync(ct);
        store.ExpireEvents(options.EventTtl); // what outlived its time while the server was down (a restored state directory)
        server.expiringEvents = server.ExpireEventsAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        server.BaseAddress = new Uri(address.Replace("[::]", "127.0.0.1", StringComparison.Ordinal));
        var namespaces = store.FindType("", "v1", "namespaces")!;
        // The namespaces a kube-apiserver makes for itself at start (its system namespaces controller).
        foreach (var ns in new[] { "default", "kube-system", "kube-public", "kube-node-lease" })
        {
            if (store.List(namespaces, null, LabelSelector.Everything, FieldSelector.Parse($"metadata.name={ns}")).Items.Count == 0)
            {
                store.Create(namespaces, "", new JsonObject { ["metadata"] = new JsonObject { ["name"] = ns } });
            }
        }

        return server;
    }

    /// <summary>A client configuration for this server: its address, token and certificate authority.</summary>
    public KubernetesClientConfiguration ClientConfiguration() => new()
    {
        Host = BaseAddress.ToString().TrimEnd('/'),
        AccessToken = options.Credentials?.Token,
        SslCaCerts = options.Credentials is { } credentials ? [X509CertificateLoader.LoadCertificate(credentials.Authority.RawData)] : null,
    };

    /// <summary>Looks for expired Events once a minute (or each TTL, when shorter), as etcd expires leases as they run out.</summary>
    private async Task ExpireEventsAsync()
    {
        using var timer = new PeriodicTimer(options.EventTtl < TimeSpan.FromMinutes(1) ? options.EventTtl : TimeSpan.FromMinutes(1));
        try
        {
            while (await timer.WaitForNextTickAsync(stopping.Token))
            {
                Store.ExpireEvents(options.EventTtl);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        await stopping.CancelAsync();
        await expiringEvents;
        stopping.Dispose();
        EndWatches();
        await app.StopAsync();
        await app.DisposeAsync();
        lock (watchGate)
        {
            watches.Dispose();
        }
    }

    /// <summary>Closes every open watch connection at once, mid-stream, as a restarting API server or proxy does.</summary>
    public void EndWatches()
    {
        CancellationTokenSource ended;
        lock (watchGate)
        {
            ended = watches;
            watches = new CancellationTokenSource();
        }

        ended.Cancel();
        ended.Dispose();
    }

    public long Requests(string verb) => requestCounts.GetValueOrDefault(verb);

    /// <summary>
    /// Every (RBAC verb, API group, resource[/subresource]) a client used so far, for checking a ClusterRole grants
    /// what the operator does. Discovery and non-resource paths are not included.
    /// </summary>
    public IReadOnlyCollection<(string Verb, string Group, string Resource)> Access => access.Keys.ToArray();

    public void ForgetAccess() => access.Clear();

    /// <summary>Whether a watch stream whose path contains <paramref name="pathFragment"/> is open now.</summary>
    public bool HasOpenWatch(string pathFragment) => openWatches.Values.Any(path => path.Contains(pathFragment, StringComparison.Ordinal));

    private CancellationToken WatchLifetime
    {
        get
        {
            lock (watchGate)
            {
                return watches.Token;
            }
        }
    }

    private async Task HandleAsync(HttpContext context)
    {
        var method = context.Request.Method;
        var path = context.Request.Path.Value ?? "/";
        if (options.Credentials?.Token is { } token && !PublicPaths.Contains(path.TrimEnd('/')) && !Authenticated(context, token))
        {
            await WriteError(context, new ApiException(401, "Unauthorized", "Unauthorized"));
            return;
        }

        if (options.Interceptor is { } interceptor && await interceptor.InterceptAsync(method, path, context.RequestAborted) is { } failure)
        {
            if (failure.Code == 429)
            {
                context.Response.Headers.RetryAfter = "1";
            }

            await WriteError(context, failure);
            return;
        }

        try
        {
            await RouteAsync(context, method, path);
        }
        catch (ApiException error)
        {
            await WriteError(context, error);
        }
        catch (System.Text.Json.JsonException e)
        {
            await WriteError(context, ApiException.BadRequest($"the body of the request could not be decoded: {e.Message}"));
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // A bug of the server must show its cause to the client, not an empty 500.
            await WriteError(context, new ApiException(500, "InternalError", $"Internal error occurred: {e}"));
        }
    }

    private static bool Authenticated(HttpContext context, string token)
    {
        var header = context.Request.Headers.Authorization.ToString();
        return header.StartsWith("Bearer ", StringComparison.Ordinal)
            && CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(header["Bearer ".Length..].Trim()), Encoding.UTF8.GetBytes(token));
    }

    private async Task RouteAsync(HttpContext context, string method, string path)
    {
        var segments = path.Trim('/').Split('/', StringSplitOptions.RemoveEmptyEntries).Select(Uri.UnescapeDataString).ToArray();
        switch (segments)
        {
            case ["version"]:
                await WriteJson(context, 200, new JsonObject { ["major"] = "1", ["minor"] = "26", ["gitVersion"] = options.GitVersion, ["platform"] = "linux/amd64" });
                return;
            case ["debug", "requests"]:
                // Test-server only: request counts by verb, for benchmarks that run the server in another process.
                await WriteJson(context, 200, new JsonObject(requestCounts.Select(p => new KeyValuePair<string, JsonNode?>(p.Key, p.Value))));
                return;
            case ["openapi", "v3"]:
                await WriteJson(context, 200, OpenApi.Root(Store.Types()));
                return;
            case ["openapi", "v3", "api", var coreVersion]:
                await WriteJson(context, 200, OpenApi.GroupVersion(Store.Types(), "", coreVersion, options.GitVersion));
                return;
            case ["openapi", "v3", "apis", var openApiGroup, var openApiVersion]:
                await WriteJson(context, 200, OpenApi.GroupVersion(Store.Types(), openApiGroup, openApiVersion, options.GitVersion));
                return;
            case ["apis", "authorization.k8s.io", "v1", "selfsubjectaccessreviews"] when method == "POST":
                // Whoever holds the token may do everything here (one person's machine): the review says so.
                var review = await ReadBodyAsync(context);
                review["status"] = new JsonObject { ["allowed"] = true, ["reason"] = "the embedded API server grants its token holder everything" };
                await WriteJson(context, 201, review);
                return;
            case ["healthz"] or ["readyz"] or ["livez"]:
                context.Response.ContentType = "text/plain";
                await context.Response.WriteAsync("ok");
                return;
            case ["api"]:
                await WriteJson(context, 200, new JsonObject { ["kind"] = "APIVersions", ["versions"] = new JsonArray("v1") });
                return;
            case ["apis"]:
                await WriteJson(context, 200, GroupList());
                return;
            case ["api", "v1"]:
                await WriteJson(context, 200, ResourceList("", "v1"));
                return;
            case ["apis", var discoveryGroup, var discoveryVersion]:
                await WriteJson(context, 200, ResourceList(discoveryGroup, discoveryVersion));
                return;
        }

        var (group, version, rest) = segments switch
        {
            ["api", var v, .. var r] => ("", v, r),
            ["apis", var g, var v, .. var r] => (g, v, r),
            _ => throw new ApiException(404, "NotFound", "the server could not find the requested resource"),
        };

        string? ns = null;
        if (rest is ["namespaces", var candidateNs, var candidatePlural, ..] && Store.FindType(group, version, candidatePlural) is { Namespaced: true })
        {
            ns = candidateNs;
            rest = rest[2..];
        }

        if (rest.Length == 0 || Store.FindType(group, version, rest[0]) is not { } type)
        {
            throw new ApiException(404, "NotFound", "the server could not find the requested resource");
        }

        var name = rest.Length > 1 ? rest[1] : null;
        var subresource = rest.Length > 2 ? rest[2] : null;
        var query = context.Request.Query;
        if (name is null)
        {
            await CollectionAsync(context, method, type, ns, query);
            return;
        }

        if (type.Namespaced && ns is null)
        {
            throw new ApiException(404, "NotFound", "the server could not find the requested resource");
        }

        if (subresource == "log" && type.Key == "/pods")
        {
            await PodLogAsync(context, ns!, name, query);
            return;
        }

        if (subresource == "exec" && type.Key == "/pods")
        {
            await PodExecAsync(context, type, ns!, name, query);
            return;
        }

        if (subresource == "binding" && type.Key == "/pods" && method == "POST")
        {
            await BindAsync(context, type, ns!, name);
            return;
        }

        if (subresource is not (null or "status") || (subresource == "status" && !type.StatusSubresource))
        {
            throw new ApiException(404, "NotFound", "the server could not find the requested resource");
        }

        await ObjectAsync(context, method, type, ns ?? "", name, subresource);
    }

    private async Task CollectionAsync(HttpContext context, string method, ResourceType type, string? ns, IQueryCollection query)
    {
        var labels = LabelSelector.Parse(query["labelSelector"]);
        var fields = FieldSelector.Parse(query["fieldSelector"]);
        switch (method)
        {
            case "GET" when query["watch"] is var watch && (watch == "true" || watch == "1"):
                Count("watch", type);
                await WatchAsync(context, type, ns, labels, fields, query);
                return;
            case "GET":
                Count("list", type);
                var (items, revision) = Store.List(type, ns, labels, fields);
                if (Tables.Wanted(context.Request.Headers.Accept))
                {
                    await WriteJson(context, 200, Tables.Render(type, items, revision, query["includeObject"], DateTimeOffset.UtcNow));
                    return;
                }

                await WriteJson(context, 200, new JsonObject
                {
                    ["kind"] = type.Kind + "List",
                    ["apiVersion"] = type.ApiVersion,
                    ["metadata"] = new JsonObject { ["resourceVersion"] = revision.ToString(CultureInfo.InvariantCulture) },
                    ["items"] = new JsonArray(items.Select(i => (JsonNode)i).ToArray()),
                });
                return;
            case "POST":
                Count("create", type);
                var body = await ReadBodyAsync(context);
                if (ns is null && type.Namespaced)
                {
                    throw ApiException.MethodNotAllowed($"{type.Plural} must be created in a namespace");
                }

                var bodyNs = body["metadata"]?["namespace"]?.GetValue<string>();
                if (bodyNs is not null && type.Namespaced && bodyNs != ns)
                {
                    throw ApiException.BadRequest($"the namespace of the provided object does not match the namespace sent on the request");
                }

                var created = WithFieldValidation(type, body, query, out var warnings);
                var result = Create(type, ns ?? "", created);
                AddWarnings(context, warnings);
                await WriteJson(context, 201, result);
                return;
            case "DELETE":
                Count("delete", type, rbacVerb: "deletecollection");
                var (all, _) = Store.List(type, ns, labels, fields);
                foreach (var item in all)
                {
                    Store.Delete(type, ObjectStore.Namespace(item), item["metadata"]!["name"]!.GetValue<string>(), null);
                }

                await WriteJson(context, 200, new JsonObject { ["kind"] = "Status", ["apiVersion"] = "v1", ["status"] = "Success" });
                return;
            default:
                throw ApiException.MethodNotAllowed($"{method} is not supported on a collection");
        }
    }

    private async Task ObjectAsync(HttpContext context, string method, ResourceType type, string ns, string name, string? subresource)
    {
        switch (method)
        {
            case "GET":
                Count("get", type, subresource);
                var found = Store.Get(type, ns, name);
                await WriteJson(context, 200, Tables.Wanted(context.Request.Headers.Accept)
                    ? Tables.Render(type, [found], Store.Revision, context.Request.Query["includeObject"], DateTimeOffset.UtcNow)
                    : found);
                return;
            case "PUT":
                Count("update", type, subresource);
                var body = WithFieldValidation(type, await ReadBodyAsync(context), context.Request.Query, out var warnings);
                var updated = Store.Update(type, ns, name, body, subresource);
                AfterWrite(type, updated);
                AddWarnings(context, warnings);
                await WriteJson(context, 200, updated);
                return;
            case "PATCH":
                Count("patch", type, subresource);
                await WriteJson(context, 200, await PatchAsync(context, type, ns, name, subresource));
                return;
            case "DELETE":
                Count("delete", type, subresource);
                var options = context.Request.ContentLength > 0 || context.Request.Headers.TransferEncoding.Count > 0
                    ? await ReadBodyAsync(context)
                    : null;
                if (context.Request.Query["propagationPolicy"] is { Count: > 0 } policy)
                {
                    options ??= new JsonObject();
                    options["propagationPolicy"] = policy.ToString();
                }

                if (context.Request.Query["gracePeriodSeconds"] is { Count: > 0 } grace)
                {
                    options ??= new JsonObject();
                    options["gracePeriodSeconds"] = long.Parse(grace.ToString(), CultureInfo.InvariantCulture);
                }

                var deleted = Store.Delete(type, ns, name, options);
                if (type.Key == "apiextensions.k8s.io/customresourcedefinitions")
                {
                    UnregisterCustomResource(deleted);
                }

                await WriteJson(context, 200, deleted);
                return;
            default:
                throw ApiException.MethodNotAllowed($"{method} is not supported on an object");
        }
    }

    private async Task<JsonObject> PatchAsync(HttpContext context, ResourceType type, string ns, string name, string? subresource)
    {
        var contentType = context.Request.ContentType?.Split(';')[0].Trim() ?? "";
        var text = await new StreamReader(context.Request.Body).ReadToEndAsync();
        var conditional = contentType == "application/merge-patch+json" && JsonNode.Parse(text)?["metadata"]?["resourceVersion"] is not null;

        // Like the API server's guaranteed update: an unconditional patch is re-applied to a fresh read on conflict.
        for (var attempt = 1; ; attempt++)
        {
            JsonObject current;
            try
            {
                current = Store.Get(type, ns, name);
            }
            catch (ApiException e) when (e.Code == 404 && contentType == "application/apply-patch+yaml" && subresource is null)
            {
                // Server-side apply creates what does not exist yet.
                var applied = YamlJson.ReadSingle(text).AsObject();
                applied["metadata"] ??= new JsonObject();
                applied["metadata"]!["name"] = name;
                return Create(type, ns, applied);
            }

            // Strategic merge patch is approximated by a merge patch for built-in kinds; custom resources refuse it, as the API server does.
            var patched = contentType switch
            {
                "application/merge-patch+json" => MergePatch(current, text),
                "application/strategic-merge-patch+json" when !type.IsCustom => MergePatch(current, text),
                "application/json-patch+json" => WithCurrentVersion(JsonPatch.Apply(current, JsonNode.Parse(text)!.AsArray()).AsObject(), current),
                "application/apply-patch+yaml" => WithCurrentVersion(JsonMergePatch.Apply(current, YamlJson.ReadSingle(text))!.AsObject(), current),
                _ => throw ApiException.UnsupportedMediaType(contentType),
            };
            try
            {
                var updated = Store.Update(type, ns, name, patched, subresource);
                AfterWrite(type, updated);
                return updated;
            }
            catch (ApiException e) when (e.Code == 409 && e.Reason == "Conflict" && !conditional && attempt < 20)
            {
            }
        }
    }

    /// <summary>A merge patch that carries metadata.resourceVersion is a conditional update; without one it applies to the current version.</summary>
    private static JsonObject MergePatch(JsonObject current, string text)
    {
        var patch = JsonNode.Parse(text);
        var merged = JsonMergePatch.Apply(current, patch)!.AsObject();
        return patch?["metadata"]?["resourceVersion"] is null ? WithCurrentVersion(merged, current) : merged;
    }

    /// <summary>Server-side apply here is single-manager: the applied fields win, the others stay.</summary>
    private static JsonObject WithCurrentVersion(JsonObject patched, JsonObject current)
    {
        patched["metadata"] ??= new JsonObject();
        patched["metadata"]!["resourceVersion"] = current["metadata"]!["resourceVersion"]!.DeepClone();
        return patched;
    }

    private JsonObject Create(ResourceType type, string ns, JsonObject body)
    {
        if (type.Key == "apiextensions.k8s.io/customresourcedefinitions")
        {
            CompileCustomResource(body);
        }

        var created = Store.Create(type, ns, body);
        AfterWrite(type, created);
        return created;
    }

    /// <summary>CRDs: a valid schema makes the resource served and the CRD Established, as the API server does.</summary>
    private void AfterWrite(ResourceType type, JsonObject obj)
    {
        if (type.Key != "apiextensions.k8s.io/customresourcedefinitions" || obj["metadata"]?["deletionTimestamp"] is not null)
        {
            return;
        }

        var schema = CompileCustomResource(obj);
        var spec = obj["spec"]!;
        Store.Register(new ResourceType(
            schema.Group, schema.Version, schema.Plural, schema.Kind,
            spec["scope"]?.GetValue<string>() != "Cluster",
            spec["versions"]!.AsArray().Any(v => v!["subresources"]?["status"] is not null),
            TracksGeneration: true,
            schema,
            spec["names"]?["shortNames"]?.AsArray().Select(s => s!.GetValue<string>()).ToList(),
            spec["names"]?["categories"]?.AsArray().Select(s => s!.GetValue<string>()).ToList()));
        if (obj["status"]?["conditions"] is null)
        {
            var status = obj.DeepClone().AsObject();
            var now = DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture);
            status["status"] = new JsonObject
            {
                ["acceptedNames"] = spec["names"]!.DeepClone(),
                ["storedVersions"] = new JsonArray(schema.Version),
                ["conditions"] = new JsonArray(
                    new JsonObject { ["type"] = "NamesAccepted", ["status"] = "True", ["reason"] = "NoConflicts", ["message"] = "no conflicts found", ["lastTransitionTime"] = now },
                    new JsonObject { ["type"] = "Established", ["status"] = "True", ["reason"] = "InitialNamesAccepted", ["message"] = "the initial names have been accepted", ["lastTransitionTime"] = now }),
            };
            Store.Update(type, "", obj["metadata"]!["name"]!.GetValue<string>(), status, "status");
        }
    }

    private static CustomResourceSchema CompileCustomResource(JsonObject crd)
    {
        try
        {
            return CustomResourceSchema.FromDefinition(crd);
        }
        catch (SchemaException e)
        {
            var crdType = new ResourceType("apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition", false, true, true);
            throw ApiException.Invalid(crdType, crd["metadata"]?["name"]?.GetValue<string>() ?? "",
                e.Problems.Select(p => new FieldError("spec.validation.openAPIV3Schema", "Invalid value", null, p)).ToList());
        }
    }

    private void UnregisterCustomResource(JsonObject crd)
    {
        if (crd["spec"]?["group"]?.GetValue<string>() is { } group && crd["spec"]?["names"]?["plural"]?.GetValue<string>() is { } plural)
        {
            Store.Unregister($"{group}/{plural}");
        }
    }

    private JsonObject WithFieldValidation(ResourceType type, JsonObject body, IQueryCollection query, out IReadOnlyList<string> warnings)
    {
        warnings = [];
        if (type.Schema is null)
        {
            return body;
        }

        var unknown = type.Schema.Admit(body).UnknownFields;
        if (unknown.Count == 0)
        {
            return body;
        }

        var messages = unknown.Select(f => $"unknown field \"{f}\"").ToList();
        if (query["fieldValidation"] == "Strict")
        {
            throw ApiException.BadRequest("strict decoding error: " + string.Join(", ", messages));
        }

        warnings = messages;
        return body;
    }

    private static void AddWarnings(HttpContext context, IReadOnlyList<string> warnings)
    {
        foreach (var warning in warnings)
        {
            context.Response.Headers.Append("Warning", $"299 - \"{warning.Replace("\"", "\\\"", StringComparison.Ordinal)}\"");
        }
    }

    private async Task WatchAsync(HttpContext context, ResourceType type, string? ns, LabelSelector labels, FieldSelector fields, IQueryCollection query)
    {
        var requested = query["resourceVersion"].ToString();
        long? from = requested is "" or "0" ? null : long.Parse(requested, CultureInfo.InvariantCulture);
        var bookmarks = query["allowWatchBookmarks"] == "true";
        var timeout = query["timeoutSeconds"] is { Count: > 0 } t ? TimeSpan.FromSeconds(int.Parse(t.ToString(), CultureInfo.InvariantCulture)) : TimeSpan.FromMinutes(30);

        context.Response.StatusCode = 200;
        context.Response.ContentType = "application/json";
        List<ChangeEvent> replay;
        System.Threading.Channels.ChannelReader<ChangeEvent> live;
        Action cancel;
        try
        {
            (replay, live, cancel) = Store.Watch(type, ns, from);
        }
        catch (ApiException gone) when (gone.Code == 410)
        {
            await WriteLine(context, new JsonObject { ["type"] = "ERROR", ["object"] = gone.ToStatus() });
            return;
        }

        var dropped = WatchLifetime;
        using var lifetime = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, dropped);
        lifetime.CancelAfter(timeout);
        var watchId = Guid.NewGuid();
        openWatches[watchId] = context.Request.Path.Value ?? "";
        try
        {
            await context.Response.StartAsync(lifetime.Token);
            foreach (var change in replay)
            {
                await SendChange(context, type, change, labels, fields, lifetime.Token);
            }

            while (!lifetime.IsCancellationRequested)
            {
                // One timer per bookmark interval, not one per change: the changes of the interval go out as they come
                // (the store hands this watch only its own resource's), then a bookmark.
                using var tick = CancellationTokenSource.CreateLinkedTokenSource(lifetime.Token);
                tick.CancelAfter(options.BookmarkInterval);
                try
                {
                    while (true)
                    {
                        await SendChange(context, type, await live.ReadAsync(tick.Token), labels, fields, lifetime.Token);
                    }
                }
                catch (OperationCanceledException) when (!lifetime.IsCancellationRequested)
                {
                    // The bookmark interval is over.
                }

                if (bookmarks)
                {
                    // A bookmark says every change up to its resourceVersion was sent (a client re-watches from it): the
                    // changes already published up to it go first.
                    var revision = Store.Revision;
                    while (live.TryPeek(out var pending) && pending.Revision <= revision && live.TryRead(out pending))
                    {
                        await SendChange(context, type, pending, labels, fields, lifetime.Token);
                    }

                    await WriteLine(context, new JsonObject
                    {
                        ["type"] = "BOOKMARK",
                        ["object"] = new JsonObject
                        {
                            ["kind"] = type.Kind,
                            ["apiVersion"] = type.ApiVersion,
                            ["metadata"] = new JsonObject { ["resourceVersion"] = revision.ToString(CultureInfo.InvariantCulture) },
                        },
                    }, lifetime.Token);
                }
            }
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or System.Threading.Channels.ChannelClosedException)
        {
            // Client went away, the timeout passed, or the watch was dropped on purpose.
        }
        finally
        {
            cancel();
            openWatches.TryRemove(watchId, out _);
        }

        if (dropped.IsCancellationRequested && !context.RequestAborted.IsCancellationRequested)
        {
            // A dropped watch ends abruptly, without the clean end of a chunked response.
            context.Abort();
        }
    }

    private static async Task SendChange(HttpContext context, ResourceType resource, ChangeEvent change, LabelSelector labels, FieldSelector fields, CancellationToken ct)
    {
        var matchesNow = change.Type != "DELETED" && labels.Matches(change.New) && fields.Matches(change.New);
        var matchedBefore = change.Old is not null && labels.Matches(change.Old) && fields.Matches(change.Old);
        var type = (change.Type, matchedBefore, matchesNow) switch
        {
            ("DELETED", true, _) => "DELETED",
            ("ADDED", _, true) => "ADDED",
            ("MODIFIED", true, true) => "MODIFIED",
            ("MODIFIED", false, true) => "ADDED",
            ("MODIFIED", true, false) => "DELETED",
            _ => null,
        };
        if (type is not null)
        {
            // kubectl get --watch asks for each event's object as a one-row Table.
            var sent = Tables.Wanted(context.Request.Headers.Accept)
                ? Tables.Render(resource, [change.New], change.Revision, context.Request.Query["includeObject"], DateTimeOffset.UtcNow)
                : change.New.DeepClone();
            await WriteLine(context, new JsonObject { ["type"] = type, ["object"] = sent }, ct);
        }
    }

    /// <summary>The API server's part of pods/NAME/log: which container (named, or the only one), then the kubelet's log.</summary>
    private async Task PodLogAsync(HttpContext context, string ns, string name, IQueryCollection query)
    {
        var podType = Store.FindType("", "v1", "pods")!;
        Count("log", podType, "log", rbacVerb: "get");
        var pod = Store.Get(podType, ns, name);
        var container = ContainerOf(pod, name, query["container"].ToString(), initContainersToo: true);

        if (options.PodLogs is not { } logs)
        {
            throw ApiException.BadRequest($"pod {name} has no log here: this server runs no kubelet");
        }

        context.Response.ContentType = "text/plain";
        await context.Response.StartAsync(context.RequestAborted);
        await logs.CopyAsync(pod, container, query["follow"] == "true", context.Response.Body, context.RequestAborted);
    }

    /// <summary>The container a log or exec request means: the one named, or the pod's only one; the API server's words otherwise.</summary>
    private static string ContainerOf(JsonObject pod, string name, string named, bool initContainersToo)
    {
        static List<string> Names(JsonNode? list) => (list as JsonArray ?? []).Select(c => c?["name"]?.GetValue<string>() ?? "").ToList();
        var containers = Names(pod["spec"]?["containers"]);
        var initContainers = initContainersToo ? Names(pod["spec"]?["initContainers"]) : [];
        if (named.Length == 0)
        {
            return containers.Count == 1
                ? containers[0]
                : throw ApiException.BadRequest($"a container name must be specified for pod {name}, choose one of: [{string.Join(' ', containers)}]"
                    + (initContainers.Count > 0 ? $" or one of the init containers: [{string.Join(' ', initContainers)}]" : ""));
        }

        return containers.Contains(named) || initContainers.Contains(named)
            ? named
            : throw ApiException.BadRequest($"container {named} is not valid for pod {name}");
    }

    /// <summary>pods/NAME/exec: the container as for logs, then the command over a WebSocket (SPDY, kubectl's older transport, is refused).</summary>
    private async Task PodExecAsync(HttpContext context, ResourceType podType, string ns, string name, IQueryCollection query)
    {
        Count("create", podType, "exec");
        var pod = Store.Get(podType, ns, name);
        var container = ContainerOf(pod, name, query["container"].ToString(), initContainersToo: false);

        var command = query["command"].OfType<string>().ToList();
        if (command.Count == 0)
        {
            throw ApiException.BadRequest("you must specify at least 1 command");
        }

        if (pod["status"]?["phase"]?.GetValue<string>() != "Running")
        {
            throw ApiException.BadRequest($"cannot exec into a container in a completed or not yet running pod; current phase is {pod["status"]?["phase"]?.GetValue<string>() ?? "Pending"}");
        }

        if (options.PodExec is not { } exec)
        {
            throw ApiException.BadRequest($"pod {name}: this server runs no kubelet that could run a command");
        }

        if (!context.WebSockets.IsWebSocketRequest)
        {
            throw new ApiException(400, "BadRequest", "exec here speaks WebSocket (channel.k8s.io), not SPDY: use kubectl 1.29 or later");
        }

        await PodExecSession.RunAsync(context, exec, pod, container, command, query["stdin"] == "true", query["tty"] == "true");
    }

    /// <summary>What the scheduler does through the API: POST pods/NAME/binding sets spec.nodeName, once.</summary>
    private async Task BindAsync(HttpContext context, ResourceType podType, string ns, string name)
    {
        Count("create", podType, "binding");
        var binding = await JsonNode.ParseAsync(context.Request.Body, cancellationToken: context.RequestAborted) as JsonObject;
        var node = binding?["target"]?["name"]?.GetValue<string>()
            ?? throw new ApiException(422, "Invalid", "Binding.target.name: Required value");
        var pod = Store.Get(podType, ns, name);
        if (pod["spec"]?["nodeName"]?.GetValue<string>() is { Length: > 0 } bound)
        {
            throw new ApiException(409, "Conflict", $"Operation cannot be fulfilled on pods/binding \"{name}\": pod {name} is already assigned to node \"{bound}\"");
        }

        pod["spec"]!["nodeName"] = node;
        Store.Update(podType, ns, name, pod, null);
        await WriteJson(context, 201, new JsonObject { ["kind"] = "Status", ["apiVersion"] = "v1", ["status"] = "Success", ["code"] = 201 });
    }

    private JsonObject GroupList()
    {
        var groups = Store.Types().Where(t => t.Group.Length > 0).GroupBy(t => t.Group).Select(g => (JsonNode)new JsonObject
        {
            ["name"] = g.Key,
            ["versions"] = new JsonArray(g.Select(t => t.Version).Distinct().Select(v => (JsonNode)new JsonObject { ["groupVersion"] = $"{g.Key}/{v}", ["version"] = v }).ToArray()),
            ["preferredVersion"] = new JsonObject { ["groupVersion"] = $"{g.Key}/{g.First().Version}", ["version"] = g.First().Version },
        });
        return new JsonObject { ["kind"] = "APIGroupList", ["apiVersion"] = "v1", ["groups"] = new JsonArray(groups.ToArray()) };
    }

    private JsonObject ResourceList(string group, string version)
    {
        var resources = Store.Types().Where(t => t.Group == group && t.Version == version).ToList();
        if (resources.Count == 0)
        {
            throw new ApiException(404, "NotFound", "the server could not find the requested resource");
        }

        var entries = resources.SelectMany(t =>
        {
            var main = new JsonObject
            {
                ["name"] = t.Plural,
                ["singularName"] = t.Kind.ToLowerInvariant(),
                ["namespaced"] = t.Namespaced,
                ["kind"] = t.Kind,
                ["verbs"] = new JsonArray("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"),
            };
            if (t.ShortNames is { Count: > 0 })
            {
                main["shortNames"] = new JsonArray(t.ShortNames.Select(s => (JsonNode)s).ToArray());
            }

            if (t.Categories is { Count: > 0 })
            {
                main["categories"] = new JsonArray(t.Categories.Select(s => (JsonNode)s).ToArray());
            }

            var list = new List<JsonNode> { main };
            if (t.StatusSubresource)
            {
                list.Add(new JsonObject { ["name"] = t.Plural + "/status", ["namespaced"] = t.Namespaced, ["kind"] = t.Kind, ["verbs"] = new JsonArray("get", "patch", "update") });
            }

            return list;
        });
        return new JsonObject
        {
            ["kind"] = "APIResourceList",
            ["apiVersion"] = "v1",
            ["groupVersion"] = group.Length == 0 ? version : $"{group}/{version}",
            ["resources"] = new JsonArray(entries.ToArray()),
        };
    }

    /// <summary>Counts a request by verb and records the RBAC verb and resource it needs (they differ for deletecollection and logs).</summary>
    private void Count(string verb, ResourceType type, string? subresource = null, string? rbacVerb = null)
    {
        requestCounts.AddOrUpdate(verb, 1, (_, n) => n + 1);
        access.TryAdd((rbacVerb ?? verb, type.Group, subresource is null ? type.Plural : $"{type.Plural}/{subresource}"), 0);
    }

    private static async Task<JsonObject> ReadBodyAsync(HttpContext context)
    {
        var text = await new StreamReader(context.Request.Body).ReadToEndAsync();
        var contentType = context.Request.ContentType ?? "";
        var node = contentType.Contains("yaml", StringComparison.Ordinal) ? YamlJson.ReadSingle(text) : JsonNode.Parse(text);
        return node as JsonObject ?? throw ApiException.BadRequest("the body must be a JSON object");
    }

    private static async Task WriteJson(HttpContext context, int status, JsonObject body)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync(body.ToJsonString());
    }

    private static async Task WriteLine(HttpContext context, JsonObject body, CancellationToken ct = default)
    {
        await context.Response.WriteAsync(body.ToJsonString() + "\n", ct);
        await context.Response.Body.FlushAsync(ct);
    }

    private static Task WriteError(HttpContext context, ApiException error) =>
        context.Response.HasStarted ? Task.CompletedTask : WriteJson(context, error.Code, error.ToStatus());
}
