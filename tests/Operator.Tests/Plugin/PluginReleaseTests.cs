using Gentoo.Binhost;
using Gentoo.Entities.V1Alpha1;
using Gentoo.Operator.Tests.Hosting;
using Gentoo.Operator.Tests.Integration;
using Gentoo.Plugin;
using Gentoo.Portage.Releases;
using Gentoo.Portage.Tests;
using Gentoo.Runtime;
using k8s.Models;
using Microsoft.Extensions.DependencyInjection;

namespace Gentoo.Operator.Tests.Plugin;

/// <summary>kubectl gentoo releases, publish, keep and diff against the test cluster and a real binhost on 127.0.0.1.</summary>
[Collection(ClusterCollection.Name)]
public sealed class PluginReleaseTests(TestCluster cluster)
{
    private readonly ResourceApi<GentooBuilder> builders = new(cluster.Kube);

    private Task<(int ExitCode, string Output, string Error)> RunAsync(string ns, params string[] args) => PluginInvocation.RunAsync(cluster, ns, args);

    [Fact]
    public async Task Releases_lists_what_each_run_left_and_publish_and_keep_annotate_the_builder()
    {
        var ns = await PluginInvocation.BuilderWithReleasesAsync(cluster, "http://127.0.0.1:9/");

        var (exit, output, error) = await RunAsync(ns, "releases", "desktop");
        exit.ShouldBe(0, error);
        output.ShouldBe(
            "RELEASE   CREATED            RUN" + new string(' ', ns.Length + 8) + "PACKAGES   ADDED   REMOVED   CHANGED   PUBLISHED   KEEP\n"
            + $"2         2026-12-02 02:00   {ns}/world-2   3          0       1         0         yes\n"
            + $"1         2026-12-01 02:00   {ns}/world-1   4          4       0         0\n");

        (await RunAsync(ns, "publish", "desktop", "7")).Error.ShouldBe("error: release 7 is not kept by GentooBuilder desktop; kept releases: 1, 2\n");
        (await RunAsync(ns, "publish", "desktop", "1")).Output.ShouldBe($"gentoobuilder.{GroupVersion.Group}/desktop: release 1 will be published (new releases wait until kubectl gentoo publish desktop --newest)\n");
        (await builders.GetAsync(ns, "desktop", CancellationToken.None))!.Metadata.Annotations[RequestAnnotations.Publish].ShouldBe("1");
        (await RunAsync(ns, "releases", "desktop")).Output.ShouldEndWith("release 1 was chosen by a person; new releases are not published until: kubectl gentoo publish desktop --newest\n");
        (await RunAsync(ns, "publish", "desktop", "--newest")).ExitCode.ShouldBe(0);
        (await builders.GetAsync(ns, "desktop", CancellationToken.None))!.Metadata.Annotations?.ContainsKey(RequestAnnotations.Publish).ShouldNotBe(true);

        (await RunAsync(ns, "keep", "desktop", "1")).Output.ShouldBe($"gentoobuilder.{GroupVersion.Group}/desktop: releases kept by a person: 1\n");
        (await RunAsync(ns, "keep", "desktop", "5")).Error.ShouldBe("error: release 5 is not kept by GentooBuilder desktop: a purged release cannot be kept\n");
        (await RunAsync(ns, "releases", "desktop")).Output.ShouldContain("marked");
        (await RunAsync(ns, "keep", "desktop", "1", "--remove")).Output.ShouldEndWith("releases kept by a person: none\n");
    }

    [Fact]
    public async Task Diff_asks_the_binhost_what_changed_between_two_releases()
    {
        using var volumes = new ReleaseFixture();
        var store = new ReleaseStore(volumes.PkgDir);
        ReleaseDraft Draft() => new(ReleaseContents.Select(volumes.PortageIndex, volumes.PkgDir, volumes.Vdb), volumes.Repositories, "world", null, Partial: false);
        store.Create(Draft(), DateTimeOffset.UtcNow);
        volumes.Uninstall("dev-libs/libkver-0.3");
        store.Create(Draft(), DateTimeOffset.UtcNow);
        await using var binhost = BinhostServer.Build(new BinhostOptions(volumes.PkgDir, "desktop", "127.0.0.1", 0), TimeProvider.System);
        await binhost.StartAsync();
        var url = ListeningAddress.Of(binhost).ToString().TrimEnd('/') + "/";
        var ns = await PluginInvocation.BuilderWithReleasesAsync(cluster, url);

        (await RunAsync(ns, "diff", "desktop", "1", "2")).Output.ShouldBe("- dev-libs/libkver-0.3 (build 1)\n");
        (await RunAsync(ns, "diff", "desktop", "2", "2")).Output.ShouldBe("no difference\n");
        (await RunAsync(ns, "diff", "desktop", "1", "9")).Error.ShouldBe("error: release 9 is not kept here\n");
    }
}
