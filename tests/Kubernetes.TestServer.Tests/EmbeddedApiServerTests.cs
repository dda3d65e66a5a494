using System.Net;
using k8s;
using k8s.Autorest;
using k8s.Models;

namespace Gentoo.Kubernetes.TestServer.Tests;

/// <summary>The embedded server as local mode runs it: persisted to a state directory, TLS, a bearer token, loopback only.</summary>
public sealed class EmbeddedApiServerTests : IDisposable
{
    private readonly string state = Directory.CreateTempSubdirectory("gentoo-apiserver-").FullName;

    public void Dispose() => Directory.Delete(state, recursive: true);

    private Task<EmbeddedApiServer> StartAsync() => EmbeddedApiServer.StartAsync(new EmbeddedApiServerOptions
    {
        StateDirectory = Path.Combine(state, "objects"),
        Credentials = ServingCredentials.LoadOrCreate(Path.Combine(state, "pki"), TimeProvider.System),
    });

    private static V1CustomResourceDefinition WidgetDefinition() => new()
    {
        Metadata = new V1ObjectMeta { Name = "widgets.example.org" },
        Spec = new V1CustomResourceDefinitionSpec
        {
            Group = "example.org",
            Scope = "Namespaced",
            Names = new V1CustomResourceDefinitionNames { Plural = "widgets", Singular = "widget", Kind = "Widget" },
            Versions =
            [
                new V1CustomResourceDefinitionVersion
                {
                    Name = "v1", Served = true, Storage = true,
                    Schema = new V1CustomResourceValidation
                    {
                        OpenAPIV3Schema = new V1JSONSchemaProps
                        {
                            Type = "object",
                            Properties = new Dictionary<string, V1JSONSchemaProps>
                            {
                                ["spec"] = new() { Type = "object", Properties = new Dictionary<string, V1JSONSchemaProps> { ["size"] = new() { Type = "integer" } } },
                            },
                        },
                    },
                },
            ],
        },
    };

    [Fact]
    public async Task Every_acknowledged_object_and_custom_resource_survives_a_restart_and_resource_versions_keep_rising()
    {
        string lastVersion;
        await using (var server = await StartAsync())
        {
            using var kube = new k8s.Kubernetes(server.ClientConfiguration());
            await kube.ApiextensionsV1.CreateCustomResourceDefinitionAsync(WidgetDefinition());
            await kube.CoreV1.CreateNamespaceAsync(new V1Namespace { Metadata = new V1ObjectMeta { Name = "builds" } });
            await kube.CoreV1.CreateNamespacedConfigMapAsync(new V1ConfigMap { Metadata = new V1ObjectMeta { Name = "kept" }, Data = new Dictionary<string, string> { ["a"] = "1" } }, "builds");
            await kube.CoreV1.CreateNamespacedConfigMapAsync(new V1ConfigMap { Metadata = new V1ObjectMeta { Name = "gone" } }, "builds");
            await kube.CustomObjects.CreateNamespacedCustomObjectAsync(
                new Dictionary<string, object> { ["apiVersion"] = "example.org/v1", ["kind"] = "Widget", ["metadata"] = new Dictionary<string, object> { ["name"] = "w" }, ["spec"] = new Dictionary<string, object> { ["size"] = 3 } },
                "example.org", "v1", "builds", "widgets");
            var deleted = await kube.CoreV1.DeleteNamespacedConfigMapAsync("gone", "builds");
            lastVersion = deleted.Metadata.ResourceVersion;
        }

        await using (var restarted = await StartAsync())
        {
            using var kube = new k8s.Kubernetes(restarted.ClientConfiguration());
            (await kube.CoreV1.ReadNamespacedConfigMapAsync("kept", "builds")).Data["a"].ShouldBe("1");
            (await kube.CoreV1.ListNamespacedConfigMapAsync("builds")).Items.Select(c => c.Metadata.Name).ShouldBe(["kept"]);
            var widget = (System.Text.Json.JsonElement)await kube.CustomObjects.GetNamespacedCustomObjectAsync("example.org", "v1", "builds", "widgets", "w");
            widget.GetProperty("spec").GetProperty("size").GetInt32().ShouldBe(3);

            var next = await kube.CoreV1.CreateNamespacedConfigMapAsync(new V1ConfigMap { Metadata = new V1ObjectMeta { Name = "after" } }, "builds");
            long.Parse(next.Metadata.ResourceVersion).ShouldBeGreaterThan(long.Parse(lastVersion), "a restarted server must not hand out a resourceVersion twice");

            // A watch from before the restart cannot be resumed: the client is told to list again.
            KubernetesException? gone = null;
#pragma warning disable CS0618
            var watch = kube.CoreV1.ListNamespacedConfigMapWithHttpMessagesAsync("builds", resourceVersion: lastVersion, watch: true, timeoutSeconds: 5)
                .WatchAsync<V1ConfigMap, V1ConfigMapList>(e => gone = e as KubernetesException);
#pragma warning restore CS0618
            await foreach (var _ in watch)
            {
            }

            gone.ShouldNotBeNull().Status.Code.ShouldBe(410);
        }
    }

    [Fact]
    public async Task Requests_without_the_token_are_refused_except_version_and_health()
    {
        await using var server = await StartAsync();
        var configuration = server.ClientConfiguration();
        using var anonymous = new k8s.Kubernetes(With(configuration, token: null, configuration.SslCaCerts));
        var refused = await Should.ThrowAsync<HttpOperationException>(() => anonymous.CoreV1.ListNamespaceAsync());
        refused.Response.StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
        using var wrongToken = new k8s.Kubernetes(With(configuration, token: new string('0', 64), configuration.SslCaCerts));
        (await Should.ThrowAsync<HttpOperationException>(() => wrongToken.CoreV1.ListNamespaceAsync())).Response.StatusCode.ShouldBe(HttpStatusCode.Unauthorized);

        (await anonymous.Version.GetCodeAsync()).Major.ShouldBe("1");
        using var kube = new k8s.Kubernetes(configuration);
        (await kube.CoreV1.ListNamespaceAsync()).Items.ShouldContain(n => n.Metadata.Name == "default");
    }

    [Fact]
    public async Task It_listens_on_loopback_with_tls_a_client_trusts_only_through_the_generated_authority()
    {
        await using var server = await StartAsync();
        server.BaseAddress.Scheme.ShouldBe("https");
        IPAddress.IsLoopback(IPAddress.Parse(server.BaseAddress.Host)).ShouldBeTrue();

        using var untrusting = new k8s.Kubernetes(With(server.ClientConfiguration(), server.ClientConfiguration().AccessToken, authority: null));
        await Should.ThrowAsync<HttpRequestException>(() => untrusting.CoreV1.ListNamespaceAsync());
    }

    private static KubernetesClientConfiguration With(KubernetesClientConfiguration configuration, string? token, System.Security.Cryptography.X509Certificates.X509Certificate2Collection? authority) =>
        new() { Host = configuration.Host, AccessToken = token, SslCaCerts = authority };

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public void Credentials_are_made_once_and_readable_by_their_owner_only()
    {
        var pki = Path.Combine(state, "pki");
        var first = ServingCredentials.LoadOrCreate(pki, TimeProvider.System);
        var second = ServingCredentials.LoadOrCreate(pki, TimeProvider.System);
        second.Token.ShouldBe(first.Token);
        second.Authority.Thumbprint.ShouldBe(first.Authority.Thumbprint);
        foreach (var file in Directory.GetFiles(pki))
        {
            (File.GetUnixFileMode(file) & (UnixFileMode.GroupRead | UnixFileMode.OtherRead | UnixFileMode.GroupWrite | UnixFileMode.OtherWrite)).ShouldBe((UnixFileMode)0, file);
        }
    }

    /// <summary>A clock a test moves by hand.</summary>
    private sealed class ManualClock(DateTimeOffset start) : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = start;

        public override DateTimeOffset GetUtcNow() => Now;
    }

    [Fact]
    public void Events_go_once_their_last_write_is_older_than_the_event_ttl_and_a_repeated_one_counts_from_its_repeat()
    {
        var clock = new ManualClock(new DateTimeOffset(2026, 12, 3, 0, 0, 0, TimeSpan.Zero));
        var store = new Gentoo.ApiServer.Api.ObjectStore(clock);
        foreach (var type in Gentoo.ApiServer.Api.ResourceType.BuiltIn(volumeSnapshots: false))
        {
            store.Register(type);
        }

        store.Create(store.FindType("", "v1", "namespaces")!, "", new System.Text.Json.Nodes.JsonObject { ["metadata"] = new System.Text.Json.Nodes.JsonObject { ["name"] = "default" } });
        var events = store.FindType("", "v1", "events")!;
        var configMaps = store.FindType("", "v1", "configmaps")!;
        System.Text.Json.Nodes.JsonObject Event(string name) => new()
        {
            ["metadata"] = new System.Text.Json.Nodes.JsonObject { ["name"] = name, ["namespace"] = "default" },
            ["involvedObject"] = new System.Text.Json.Nodes.JsonObject { ["kind"] = "GentooBuilder", ["name"] = "plasma-desktop", ["namespace"] = "default" },
            ["reason"] = "SnapshotTaken",
        };
        store.Create(events, "default", Event("once"));
        var repeated = store.Create(events, "default", Event("repeated"));
        store.Create(configMaps, "default", new System.Text.Json.Nodes.JsonObject { ["metadata"] = new System.Text.Json.Nodes.JsonObject { ["name"] = "portage" } });

        clock.Now += TimeSpan.FromMinutes(40);
        repeated["lastTimestamp"] = "2026-12-03T00:40:00Z"; // the event happened again: its lastTimestamp moved, as a recorder aggregating it writes
        store.Update(events, "default", "repeated", repeated, null);
        store.ExpireEvents(TimeSpan.FromHours(1)).ShouldBe(0);

        clock.Now += TimeSpan.FromMinutes(21);
        store.ExpireEvents(TimeSpan.FromHours(1)).ShouldBe(1);
        store.List(events, "default", Gentoo.ApiServer.Api.LabelSelector.Everything, Gentoo.ApiServer.Api.FieldSelector.Parse(null)).Items
            .Select(e => e["metadata"]!["name"]!.GetValue<string>()).ShouldBe(["repeated"]);

        clock.Now += TimeSpan.FromMinutes(40);
        store.ExpireEvents(TimeSpan.FromHours(1)).ShouldBe(1);
        store.List(events, null, Gentoo.ApiServer.Api.LabelSelector.Everything, Gentoo.ApiServer.Api.FieldSelector.Parse(null)).Items.ShouldBeEmpty();
        store.Get(configMaps, "default", "portage").ShouldNotBeNull(); // only Events expire
    }

    [Fact]
    public async Task The_server_deletes_expired_events_by_itself_and_watches_see_them_go()
    {
        await using var server = await EmbeddedApiServer.StartAsync(new EmbeddedApiServerOptions { EventTtl = TimeSpan.FromSeconds(1) });
        using var kube = new k8s.Kubernetes(server.ClientConfiguration());
        var created = await kube.CoreV1.CreateNamespacedEventAsync(new Corev1Event
        {
            Metadata = new V1ObjectMeta { GenerateName = "plasma-desktop.", NamespaceProperty = "default" },
            InvolvedObject = new V1ObjectReference { Kind = "GentooBuilder", Name = "plasma-desktop", NamespaceProperty = "default" },
            Reason = "SnapshotTaken", Message = "snapshot plasma-desktop-root-3 taken", Type = "Normal",
        }, "default");
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(30));
#pragma warning disable CS0618 // the list-call watch is the one KubernetesClient 21 offers for a namespaced list
        var watch = kube.CoreV1.ListNamespacedEventWithHttpMessagesAsync("default", watch: true, resourceVersion: created.Metadata.ResourceVersion, cancellationToken: stop.Token)
            .WatchAsync<Corev1Event, Corev1EventList>(cancellationToken: stop.Token);
#pragma warning restore CS0618
        await foreach (var (type, seen) in watch)
        {
            if (type == WatchEventType.Deleted)
            {
                seen.Metadata.Name.ShouldBe(created.Metadata.Name);
                break;
            }
        }

        (await kube.CoreV1.ListNamespacedEventAsync("default")).Items.ShouldBeEmpty();
    }
}
