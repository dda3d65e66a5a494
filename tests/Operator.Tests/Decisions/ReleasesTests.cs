using Gentoo.Entities.V1Alpha1;
using Gentoo.Operator.Decisions;
using k8s.Models;

namespace Gentoo.Operator.Tests.Decisions;

public sealed class ReleasesTests
{
    private static readonly DateTime Now = new(2026, 12, 2, 8, 0, 0, DateTimeKind.Utc);

    private static GentooBuilder Builder(string? publish = null, bool? autoPublish = null, string? published = null, string? tried = null, params string[] kept)
    {
        var builder = new GentooBuilder
        {
            Metadata = new V1ObjectMeta { Name = "desktop", NamespaceProperty = "builds", Annotations = new Dictionary<string, string>() },
            Spec = new GentooBuilderSpec { Releases = new ReleasePolicy { AutoPublish = autoPublish } },
        };
        if (publish is not null)
        {
            builder.Metadata.Annotations[RequestAnnotations.Publish] = publish;
        }

        builder.Status.Releases = new BuilderReleases { Published = published, LastHandledPublish = tried, Kept = [.. kept.Select(id => new ReleaseSummary { Id = id })] };
        return builder;
    }

    private static ReportReleases Report(string? published, params string[] kept) =>
        new(null, published, [.. kept.Select(id => new ReportRelease(id, Now, "builds/r" + id, 10, 1, 0, 2, false))], new ReportPurge(1, 3, 4096));

    [Fact]
    public void Under_autopublish_builds_publish_what_they_make_until_a_person_chooses_a_release()
    {
        Releases.BuildPublishes(Builder()).ShouldBeTrue();
        Releases.BuildPublishes(Builder(publish: "3")).ShouldBeFalse("a person's rollback holds until they remove it");
        Releases.BuildPublishes(Builder(autoPublish: false)).ShouldBeFalse();
    }

    [Fact]
    public void A_publish_pod_runs_for_a_persons_choice_and_for_the_newest_release_once_the_choice_is_withdrawn()
    {
        Releases.PendingPublish(Builder(publish: "2", published: "4", kept: ["2", "3", "4"])).ShouldBe("2");
        Releases.PendingPublish(Builder(publish: "2", published: "2", kept: ["2", "3", "4"])).ShouldBeNull("already published");
        Releases.PendingPublish(Builder(publish: "9", published: "4", tried: "9", kept: ["2", "3", "4"])).ShouldBeNull("tried once; the Event said why it failed");
        Releases.PendingPublish(Builder(published: "2", kept: ["2", "3", "4"])).ShouldBe("4", "the request is gone: back to the newest under autoPublish");
        Releases.PendingPublish(Builder(autoPublish: false, published: "2", kept: ["2", "3", "4"])).ShouldBeNull("without autoPublish only a person publishes");
        Releases.PendingPublish(Builder()).ShouldBeNull("no release yet");
    }

    [Fact]
    public void Build_pods_are_told_the_run_the_publishing_and_what_retention_keeps()
    {
        var builder = Builder(publish: "3");
        builder.Metadata.Annotations[RequestAnnotations.KeepReleases] = "1, 2";
        builder.Spec.Releases!.Keep = 2;
        builder.Spec.Releases.PublishPartial = true;
        builder.Status.ConfigDigest = "abc";
        var run = new BuildRun { Metadata = new V1ObjectMeta { Name = "world-7", NamespaceProperty = "builds" } };

        Releases.BuildArguments(run, builder).ShouldBe([
            "--release-run", "builds/world-7", "--config-digest", "abc", "--publish", "none", "--release-partial",
            "--keep-releases", "2", "--keep-release", "1", "--keep-release", "2",
        ]);
    }

    [Fact]
    public void A_report_of_the_volume_replaces_what_status_knew_and_records_a_purge()
    {
        var status = Builder(published: "1", kept: ["1"]).Status;

        Releases.Apply(status, Report("3", "2", "3"), Now);

        status.Releases!.Published.ShouldBe("3");
        status.Releases.Kept!.Select(r => (r.Id, r.Run, r.Packages, r.Changed)).ShouldBe([("2", "builds/r2", 10, 2), ("3", "builds/r3", 10, 2)]);
        status.Releases.LastPurge!.Bytes.ShouldBe(4096);
        Releases.PurgeMessage(Report("3", "3")).ShouldBe("1 release(s) no longer kept; 3 package file(s) no kept release needs purged, 4,096 bytes freed");

        Releases.Apply(status, new ReportReleases(null, null, [], null) { NotMade = "no release: no Packages" }, Now);
        status.Releases.Published.ShouldBe("3", "a report that knows nothing of the volume changes nothing");
    }
}
