using Gentoo.Entities.Schema;
using Gentoo.Entities.V1Alpha1;
using Gentoo.Operator.Decisions;
using Gentoo.Operator.Storage;
using k8s.Models;

namespace Gentoo.Operator.Tests.Decisions;

public sealed class AutoBuildsTests
{
    private static readonly DateTime T0 = new(2026, 11, 25, 0, 30, 0, DateTimeKind.Utc);

    [Fact]
    public void Only_the_newest_missed_occurrence_is_due_and_the_next_follows_it()
    {
        AutoBuilds.TryParse(new AutoBuild { Schedule = "0 * * * *" }, out var cron, out var zone, out var error).ShouldBeTrue(error);

        var times = AutoBuilds.Times(cron, zone, T0, T0.AddHours(3).AddMinutes(10));

        times.Due.ShouldBe(new DateTime(2026, 11, 25, 3, 0, 0, DateTimeKind.Utc));
        times.Next.ShouldBe(new DateTime(2026, 11, 25, 4, 0, 0, DateTimeKind.Utc));
        AutoBuilds.Times(cron, zone, T0, T0.AddMinutes(10)).Due.ShouldBeNull();
    }

    [Fact]
    public void The_schedule_follows_its_time_zone()
    {
        AutoBuilds.TryParse(new AutoBuild { Schedule = "0 2 * * *", TimeZone = "Europe/Berlin" }, out var cron, out var zone, out _).ShouldBeTrue();

        AutoBuilds.Times(cron, zone, T0, T0.AddHours(1)).Due.ShouldBe(new DateTime(2026, 11, 25, 1, 0, 0, DateTimeKind.Utc), "02:00 in Berlin in winter is 01:00 UTC");
    }

    [Theory]
    [InlineData("every night", null, "spec.autoBuild.schedule")]
    [InlineData("0 2 * * *", "Mars/Olympus", "spec.autoBuild.timeZone")]
    public void A_bad_schedule_or_time_zone_is_named(string schedule, string? zone, string field)
    {
        AutoBuilds.TryParse(new AutoBuild { Schedule = schedule, TimeZone = zone }, out _, out _, out var error).ShouldBeFalse();
        error.ShouldStartWith(field);
    }

    [Fact]
    public void History_keeps_the_newest_finished_runs_per_outcome_and_every_open_one()
    {
        BuildRun Run(string name, int hour, BuildRunPhase? phase) => new()
        {
            Metadata = new V1ObjectMeta { Name = name, CreationTimestamp = T0.AddHours(hour) },
            Status = new BuildRunStatus { Phase = phase },
        };
        var runs = new[] { Run("s1", 1, BuildRunPhase.Succeeded), Run("s2", 2, BuildRunPhase.Succeeded), Run("s3", 3, BuildRunPhase.Succeeded), Run("f1", 4, BuildRunPhase.Failed), Run("f2", 5, BuildRunPhase.Failed), Run("wait", 0, BuildRunPhase.AwaitingOperator) };

        var pruned = AutoBuilds.Prunable(runs, new AutoBuild { Schedule = "@daily", SuccessfulRunsHistoryLimit = 2, FailedRunsHistoryLimit = 1 });

        pruned.Select(r => r.Metadata.Name).Order().ShouldBe(["f1", "s1"]);
    }

    [Fact]
    public void Scheduled_run_names_are_valid_and_the_same_for_the_same_occurrence()
    {
        var name = AutoBuilds.RunName(new string('b', 60), T0);
        name.Length.ShouldBeLessThanOrEqualTo(63);
        name.ShouldEndWith("-20261125-0030");
        AutoBuilds.RunName(new string('b', 60), T0).ShouldBe(name);
    }

    [Theory]
    [InlineData("12h", 12 * 3600)]
    [InlineData("1h30m", 5400)]
    [InlineData("1.5h", 5400)]
    [InlineData("90s", 90)]
    public void Durations_read_as_kubernetes_writes_them(string text, int seconds)
    {
        Durations.TryParse(text, out var duration).ShouldBeTrue();
        duration.ShouldBe(TimeSpan.FromSeconds(seconds));
        Durations.TryParse("12 hours", out _).ShouldBeFalse();
    }

    [Fact]
    public void A_snapshot_class_is_chosen_by_the_volumes_provisioner_preferring_the_default()
    {
        VolumeSnapshotClass Class(string name, string driver, bool isDefault = false) => new()
        {
            Metadata = new V1ObjectMeta { Name = name, Annotations = isDefault ? new Dictionary<string, string> { [VolumeSnapshotClass.DefaultAnnotation] = "true" } : null },
            Driver = driver,
        };
        var classes = new[] { Class("a", "ebs.csi.aws.com"), Class("b", "rbd.csi.ceph.com"), Class("c", "rbd.csi.ceph.com", isDefault: true) };

        SnapshotSupport.Choose(null, "ceph", "rbd.csi.ceph.com", classes).ClassName.ShouldBe("c");
        var localPath = SnapshotSupport.Choose(null, "local-path", "rancher.io/local-path", classes);
        localPath.CanSnapshot.ShouldBeFalse();
        localPath.Explanation.ShouldContain("rancher.io/local-path");
        SnapshotSupport.Choose("missing", "ceph", "rbd.csi.ceph.com", classes).Explanation.ShouldContain("VolumeSnapshotClass missing does not exist");
    }
}
