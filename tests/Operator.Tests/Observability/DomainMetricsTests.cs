using System.Net;
using Gentoo.Binhost;
using Gentoo.Entities.V1Alpha1;
using Gentoo.Operator.Hosting;
using Gentoo.Runtime;
using k8s.Models;
using Microsoft.Extensions.DependencyInjection;
using Prometheus;

namespace Gentoo.Operator.Tests.Observability;

public sealed class DomainMetricsTests
{
    private sealed class Runs(params BuildRun[] items) : ICache<BuildRun>
    {
        public bool HasSynced => true;

        public BuildRun? Get(ObjectKey key) => items.FirstOrDefault(r => r.Metadata.Name == key.Name);

        public IReadOnlyList<BuildRun> List(string? ns = null) => items;

        public IReadOnlyList<BuildRun> OwnedBy(string ownerUid) => [];

        public IReadOnlyList<BuildRun> ByIndex(CacheIndex<BuildRun> index, string value) => [.. items.Where(r => index.ValuesOf(r).Contains(value))];
    }

    private static BuildRun Run(string name, BuildRunPhase phase, string? reason = null) => new()
    {
        Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = "builds" },
        Spec = new BuildRunSpec { BuilderRef = new LocalReference { Name = "desktop" } },
        Status = new BuildRunStatus
        {
            Phase = phase,
            StartTime = new DateTime(2026, 12, 2, 1, 0, 0, DateTimeKind.Utc),
            CompletionTime = new DateTime(2026, 12, 2, 2, 30, 0, DateTimeKind.Utc),
            Packages = new PackageCounts { Built = 12, Reused = 30 },
            Conditions = reason is null ? null : Conditions.MarkFalse(null, ConditionTypes.Ready, reason, "m", 1, DateTime.UtcNow),
        },
    };

    private static async Task<string> ScrapeAsync(CollectorRegistry registry)
    {
        using var stream = new MemoryStream();
        await registry.CollectAndExportAsTextAsync(stream);
        return System.Text.Encoding.UTF8.GetString(stream.ToArray());
    }

    [Fact]
    public async Task Ended_runs_are_counted_once_by_outcome_with_their_duration_and_packages_and_waiting_runs_are_a_gauge()
    {
        var registry = Prometheus.Metrics.NewCustomRegistry();
        var metrics = new BuildMetrics(registry, new Runs(Run("nightly", BuildRunPhase.AwaitingOperator), Run("vim", BuildRunPhase.Running)));

        metrics.Observe(Run("world", BuildRunPhase.Succeeded), BuildRunPhase.Running);
        metrics.Observe(Run("world", BuildRunPhase.Succeeded), BuildRunPhase.Succeeded); // written again, unchanged: not counted twice
        metrics.Observe(Run("emacs", BuildRunPhase.Failed, Reasons.Stopped), BuildRunPhase.Running);

        var text = await ScrapeAsync(registry);
        text.ShouldContain("gentoo_builder_buildruns_ended_total{namespace=\"builds\",builder=\"desktop\",outcome=\"succeeded\"} 1");
        text.ShouldContain("gentoo_builder_buildruns_ended_total{namespace=\"builds\",builder=\"desktop\",outcome=\"stopped\"} 1");
        text.ShouldContain("gentoo_builder_buildrun_duration_seconds_sum{namespace=\"builds\",builder=\"desktop\",outcome=\"succeeded\"} 5400");
        text.ShouldContain("gentoo_builder_packages_built_total{namespace=\"builds\",builder=\"desktop\"} 24");
        text.ShouldContain("gentoo_builder_packages_reused_total{namespace=\"builds\",builder=\"desktop\"} 60");
        text.ShouldContain("gentoo_builder_buildruns_awaiting_person{namespace=\"builds\",builder=\"desktop\"} 1");
    }

    [Fact]
    public async Task The_binhost_counts_requests_and_bytes_by_kind_of_path_and_build_requests_by_answer()
    {
        var pkgdir = Directory.CreateTempSubdirectory("binhost-metrics-");
        try
        {
            Checkout.CopyDirectory(Checkout.PathOf("tests", "Fixtures", "portage", "pkgdir"), pkgdir);
            await using var app = BinhostServer.Build(new BinhostOptions(pkgdir.FullName, "desktop", "127.0.0.1", 0), TimeProvider.System);
            await app.StartAsync();
            using var http = new HttpClient { BaseAddress = ListeningAddress.Of(app) };

            (await http.GetAsync("/Packages")).StatusCode.ShouldBe(HttpStatusCode.OK);
            (await http.GetAsync("/dev-libs/libkver/libkver-0.3-1.gpkg.tar")).StatusCode.ShouldBe(HttpStatusCode.OK);
            (await http.GetAsync("/dev-libs/libkver/missing-1.gpkg.tar")).StatusCode.ShouldBe(HttpStatusCode.NotFound);
            (await http.PostAsync("/build", new StringContent("app-misc/screen"))).StatusCode.ShouldBe(HttpStatusCode.NotFound, "builds on demand are off here");

            var text = await http.GetStringAsync("/metrics");
            text.ShouldContain("gentoo_binhost_requests_total{kind=\"index\",code=\"200\"} 1");
            text.ShouldContain("gentoo_binhost_requests_total{kind=\"package\",code=\"200\"} 1");
            text.ShouldContain("gentoo_binhost_requests_total{kind=\"package\",code=\"404\"} 1");
            text.ShouldContain("gentoo_binhost_response_bytes_total{kind=\"package\"} 10240");
            text.ShouldContain("gentoo_binhost_build_requests_total{answer=\"off\"} 1");
        }
        finally
        {
            pkgdir.Delete(recursive: true);
        }
    }

    [Theory]
    [InlineData("/Packages", "index")]
    [InlineData("/releases/3/Packages", "release-index")]
    [InlineData("/releases/3/app-misc/a/a-1-1.gpkg.tar", "package")]
    [InlineData("/repos/gentoo.git/objects/info/packs", "repository")]
    [InlineData("/releases/3/repos/gentoo.git/info/refs", "repository")]
    [InlineData("/client-setup.sh", "setup")]
    [InlineData("/", "page")]
    [InlineData("/releases", "releases")]
    [InlineData("/etc/passwd", "other")]
    public void Paths_are_counted_by_what_they_ask_for(string path, string kind) => BinhostMetrics.KindOf(path).ShouldBe(kind);
}
