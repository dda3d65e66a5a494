using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Gentoo.Entities.V1Alpha1;
using Gentoo.Kubernetes.TestServer;
using Gentoo.Binhost;
using Gentoo.Operator.Decisions;
using Gentoo.Operator.Desired;
using Gentoo.Operator.Hosting;
using Gentoo.Runtime;
using k8s;
using k8s.Models;
using Microsoft.Extensions.DependencyInjection;

namespace Gentoo.Operator.Tests.Integration;

/// <summary>
/// Builds on demand end to end: the operator gives the builder's binhost an account and a token, and the binhost
/// (over real HTTP) turns authenticated requests for missing packages into BuildRuns the operator then builds.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class OnDemandBuildTests(TestCluster cluster) : IDisposable
{
    private const string Success = """{"step":"build","result":"success","outcome":"success","emergeExitCode":0,"packagesMerged":1}""";

    private readonly ResourceApi<GentooBuilder> builders = new(cluster.Kube);
    private readonly ResourceApi<BuildRun> runs = new(cluster.Kube);
    private readonly DirectoryInfo work = Directory.CreateTempSubdirectory("ondemand-");

    public void Dispose() => work.Delete(recursive: true);

    private async Task<(GentooBuilder Builder, string Token)> ReadyBuilderAsync(string ns, int maxRunsPerHour)
    {
        await new ResourceApi<GentooBootstrap>(cluster.Kube).CreateAsync(TestObjects.Stage3Bootstrap(ns), CancellationToken.None);
        await builders.CreateAsync(new GentooBuilder
        {
            Metadata = new V1ObjectMeta { Name = "desktop", NamespaceProperty = ns },
            Spec = new GentooBuilderSpec
            {
                BootstrapRef = new LocalReference { Name = "stage3" },
                Binhost = new BinhostSpec { OnDemand = new OnDemandSpec { Enabled = true, MaxRunsPerHour = maxRunsPerHour } },
            },
        }, CancellationToken.None);
        var builder = await Eventually.GetAsync(async () => (await builders.GetAsync(ns, "desktop", CancellationToken.None))!,
            b => Conditions.IsTrue(b.Status.Conditions, ConditionTypes.Ready) && b.Status.BinhostUrl is not null, "the builder and its binhost");
        builder.Status.BuildRequestTokenSecret.ShouldBe("desktop-binhost-token");
        var secret = await cluster.Kube.CoreV1.ReadNamespacedSecretAsync("desktop-binhost-token", ns);
        return (builder, Encoding.ASCII.GetString(secret.Data["token"]));
    }

    /// <summary>The binhost process as its Deployment runs it: the PKGDIR, and the token file the kubelet mounts.</summary>
    private async Task<(IAsyncDisposable App, HttpClient Http)> StartBinhostAsync(string ns, string token, int maxRunsPerHour)
    {
        var pkgdir = work.CreateSubdirectory("pkgdir");
        Checkout.CopyDirectory(Checkout.PathOf("tests", "Fixtures", "portage", "pkgdir"), pkgdir);

        var tokenFile = Path.Combine(work.FullName, "token");
        await File.WriteAllTextAsync(tokenFile, token);
        var onDemand = new OnDemandBuilds(cluster.Kube, ns, "desktop", maxRunsPerHour, TimeProvider.System);
        var app = BinhostServer.Build(new BinhostOptions(pkgdir.FullName, "desktop", "127.0.0.1", 0) { OnDemandTokenFile = tokenFile }, TimeProvider.System, onDemand);
        await app.StartAsync();
        var http = new HttpClient { BaseAddress = ListeningAddress.Of(app) };
        return (app, http);
    }

    private static async Task<(HttpStatusCode Status, JsonElement Body, HttpResponseMessage Response)> PostAsync(HttpClient http, string? token, string body, string type = "text/plain")
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/build") { Content = new StringContent(body, Encoding.UTF8, type) };
        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        var response = await http.SendAsync(request);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return (response.StatusCode, json.RootElement.Clone(), response);
    }

    [PodDrivingFact]
    public async Task Authenticated_requests_for_missing_packages_make_one_build_run_the_operator_builds_within_the_hourly_allowance()
    {
        await using var session = await LifecycleSession.StartAsync(cluster, _ => new PodScript(0, Success), Controllers.AddBootstraps, Controllers.AddBuilders, Controllers.AddBuildRuns);
        var ns = session.Namespace;
        var (_, token) = await ReadyBuilderAsync(ns, maxRunsPerHour: 2);

        var deployment = await cluster.Kube.AppsV1.ReadNamespacedDeploymentAsync("desktop-binhost", ns);
        var pod = deployment.Spec.Template.Spec;
        pod.ServiceAccountName.ShouldBe("desktop-binhost");
        pod.AutomountServiceAccountToken.ShouldBe(true);
        pod.Containers[0].Args.ShouldContain("--on-demand-token");
        pod.Volumes.Single(v => v.Name == "token").Secret.ShouldSatisfyAllConditions(
            v => v.SecretName.ShouldBe("desktop-binhost-token"),
            v => v.Optional.ShouldBe(true, "a missing token must not keep the binhost from serving packages"));
        var role = await cluster.Kube.RbacAuthorizationV1.ReadNamespacedRoleAsync("desktop-binhost", ns);
        role.Rules.ShouldHaveSingleItem().Resources.ShouldBe(["buildruns"]);
        role.Rules[0].Verbs.ShouldBe(["get", "list", "create"]);
        (await cluster.Kube.RbacAuthorizationV1.ReadNamespacedRoleBindingAsync("desktop-binhost", ns)).Subjects.Single().Name.ShouldBe("desktop-binhost");
        token.Length.ShouldBe(64);

        var (app, http) = await StartBinhostAsync(ns, token, maxRunsPerHour: 2);
        await using (app)
        using (http)
        {
            var tokenFile = Path.Combine(work.FullName, "token");
            File.Move(tokenFile, tokenFile + ".away"); // as when the Secret is missing: the optional volume stays empty
            var unavailable = await PostAsync(http, token, "app-editors/vim");
            unavailable.Status.ShouldBe(HttpStatusCode.ServiceUnavailable);
            unavailable.Body.GetProperty("detail").GetString()!.ShouldContain("spec.binhost.onDemand.tokenSecretRef");
            File.Move(tokenFile + ".away", tokenFile);
            (await http.GetAsync("/Packages")).StatusCode.ShouldBe(HttpStatusCode.OK, "serving packages never depends on builds on demand");

            (await PostAsync(http, null, "app-editors/vim")).Status.ShouldBe(HttpStatusCode.Unauthorized);
            var wrong = await PostAsync(http, "not-the-token", "app-editors/vim");
            wrong.Status.ShouldBe(HttpStatusCode.Unauthorized);
            wrong.Response.Headers.WwwAuthenticate.ToString().ShouldStartWith("Bearer");
            var bad = await PostAsync(http, token, "app-editors/vim vim");
            bad.Status.ShouldBe(HttpStatusCode.BadRequest);
            bad.Body.GetProperty("error").GetString()!.ShouldContain("'vim'");
            var built = await PostAsync(http, token, "dev-libs/libkver");
            built.Status.ShouldBe(HttpStatusCode.OK);
            built.Body.GetProperty("buildRun").ValueKind.ShouldBe(JsonValueKind.Null, "everything asked for is in the index");
            (await runs.ListAsync(ns, CancellationToken.None)).Items.ShouldBeEmpty();

            var first = await PostAsync(http, token, """{"packages": ["app-editors/vim", "dev-libs/libkver"]}""", "application/json");
            first.Status.ShouldBe(HttpStatusCode.Accepted);
            var name = first.Body.GetProperty("buildRun").GetString()!;
            first.Body.GetProperty("available").EnumerateArray().Select(p => p.GetString()).ShouldBe(["dev-libs/libkver"]);
            var again = await PostAsync(http, token, "app-editors/vim");
            again.Status.ShouldBe(HttpStatusCode.OK);
            again.Body.GetProperty("buildRun").GetString().ShouldBe(name, "the open run already builds it");
            again.Body.GetProperty("created").GetBoolean().ShouldBeFalse();

            var run = (await runs.GetAsync(ns, name, CancellationToken.None))!;
            run.Spec.Packages.ShouldBe(["app-editors/vim"]);
            run.Spec.BuilderRef.Name.ShouldBe("desktop");
            run.Metadata.Labels[OnDemandRequests.Label].ShouldBe("true");
            run.Metadata.Annotations[OnDemandRequests.RequesterAnnotation].ShouldBe("127.0.0.1");
            await Eventually.GetAsync(async () => (await runs.GetAsync(ns, name, CancellationToken.None))!, r => r.Status.Phase == BuildRunPhase.Succeeded, "the operator to build the run");

            (await PostAsync(http, token, "app-misc/screen")).Status.ShouldBe(HttpStatusCode.Accepted);
            var limited = await PostAsync(http, token, "app-misc/tmux");
            limited.Status.ShouldBe((HttpStatusCode)429);
            int.Parse(limited.Response.Headers.RetryAfter!.ToString(), System.Globalization.CultureInfo.InvariantCulture).ShouldBeInRange(3000, 3600);
            limited.Body.GetProperty("error").GetString()!.ShouldContain("maxRunsPerHour");
        }

        await builders.PatchAsync(ns, "desktop", TestPatches.Merge(new { spec = new { binhost = new { onDemand = new { enabled = false } } } }), CancellationToken.None);
        // The account stays (the binhost reads runs for its page) but may no longer create them.
        await Eventually.GetAsync(async () => (await cluster.Kube.RbacAuthorizationV1.ReadNamespacedRoleAsync("desktop-binhost", ns)).Rules.Single().Verbs.ToList(),
            verbs => !verbs.Contains("create"), "the binhost's grant to create runs to be taken away");
        var plain = await Eventually.GetAsync(() => cluster.Kube.AppsV1.ReadNamespacedDeploymentAsync("desktop-binhost", ns),
            d => !d.Spec.Template.Spec.Containers[0].Args.Contains("--on-demand-token"), "the binhost to run without builds on demand");
        plain.Spec.Template.Spec.ServiceAccountName.ShouldBe("desktop-binhost");
        plain.Spec.Template.Spec.Containers[0].Args.ShouldNotContain("--on-demand-token");
    }
}
