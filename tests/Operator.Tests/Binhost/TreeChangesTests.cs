using Gentoo.Binhost;

namespace Gentoo.Operator.Tests.Binhost;

/// <summary>The PKGDIR's change number on a real local filesystem: it moves at once after every kind of change.</summary>
public sealed class TreeChangesTests : IDisposable
{
    private readonly DirectoryInfo root = Directory.CreateTempSubdirectory("tree-changes-");

    public void Dispose() => root.Delete(recursive: true);

    [Fact]
    public void The_number_stays_while_nothing_changes_and_has_moved_when_a_change_returns()
    {
        using var changes = new TreeChanges(root.FullName);
        changes.Watching.ShouldBeTrue(changes.Reason);
        var before = changes.Current();
        changes.Current().ShouldBe(before, "nothing changed");
        File.WriteAllBytes(Path.Combine(root.FullName, "x"), [0]);
        before = changes.Current();

        var steps = new (string What, Action Change)[]
        {
            ("a new category and package directory", () => Directory.CreateDirectory(Path.Combine(root.FullName, "app-misc", "greeter"))),
            ("a package written into the new directory", () => File.WriteAllBytes(Path.Combine(root.FullName, "app-misc", "greeter", "greeter-1.0-1.gpkg.tar"), [1, 2, 3])),
            ("the package rewritten in place", () => File.WriteAllBytes(Path.Combine(root.FullName, "app-misc", "greeter", "greeter-1.0-1.gpkg.tar"), [4, 5, 6])),
            ("a package renamed into place, as Portage does", () =>
            {
                var temporary = Path.Combine(root.FullName, "app-misc", "greeter", ".greeter-1.0-2.gpkg.tar.partial");
                File.WriteAllBytes(temporary, [7]);
                _ = changes.Current();
                File.Move(temporary, Path.Combine(root.FullName, "app-misc", "greeter", "greeter-1.0-2.gpkg.tar"));
            }),
            ("a directory moved in from outside, with a package inside", () =>
            {
                var outside = Directory.CreateTempSubdirectory("tree-changes-outside-");
                File.WriteAllBytes(Path.Combine(outside.FullName, "wordcount-0.5-1.gpkg.tar"), [8]);
                Directory.Move(outside.FullName, Path.Combine(root.FullName, "app-misc", "wordcount"));
            }),
            ("a package written into the moved directory", () => File.WriteAllBytes(Path.Combine(root.FullName, "app-misc", "wordcount", "wordcount-0.6-1.gpkg.tar"), [9])),
            ("a package deleted", () => File.Delete(Path.Combine(root.FullName, "app-misc", "greeter", "greeter-1.0-1.gpkg.tar"))),
            ("a whole category deleted", () => Directory.Delete(Path.Combine(root.FullName, "app-misc"), recursive: true)),
            ("a file's time touched", () => File.SetLastWriteTimeUtc(Path.Combine(root.FullName, "x"), DateTime.UnixEpoch)),
        };
        foreach (var (what, change) in steps)
        {
            var seen = changes.Current();
            change();
            var after = changes.Current();
            after.ShouldNotBe(seen, what);
            changes.Current().ShouldBe(after, $"nothing changed after {what}");
        }
    }

    [Fact]
    public void A_pkgdir_that_is_a_symbolic_link_is_watched_where_it_leads()
    {
        var link = Path.Combine(Path.GetTempPath(), $"tree-changes-link-{Guid.NewGuid():N}");
        Directory.CreateSymbolicLink(link, root.FullName);
        try
        {
            using var changes = new TreeChanges(link);
            changes.Watching.ShouldBeTrue(changes.Reason);
            var before = changes.Current();
            Directory.CreateDirectory(Path.Combine(link, "app-misc"));
            var after = changes.Current();
            after.ShouldNotBe(before);
            File.WriteAllBytes(Path.Combine(root.FullName, "app-misc", "greeter-1.0-1.gpkg.tar"), [1]);
            changes.Current().ShouldNotBe(after, "a package written in a new directory of the linked PKGDIR");
        }
        finally
        {
            File.Delete(link);
        }
    }

    [Fact]
    public void Changes_lost_to_a_full_event_queue_still_move_the_number_and_later_changes_are_seen()
    {
        using var changes = new TreeChanges(root.FullName);
        changes.Watching.ShouldBeTrue(changes.Reason);
        var before = changes.Current();
        var limit = int.Parse(File.ReadAllText("/proc/sys/fs/inotify/max_queued_events").Trim(), System.Globalization.CultureInfo.InvariantCulture);
        var file = Path.Combine(root.FullName, "busy");
        for (var i = 0; i <= limit / 2 + 10; i++)
        {
            // Each write is two events (modify, close after write): more than the queue holds.
            File.WriteAllBytes(file, [(byte)i]);
        }

        Directory.CreateDirectory(Path.Combine(root.FullName, "made-while-full"));
        var afterOverflow = changes.Current();
        afterOverflow.ShouldNotBe(before);
        changes.Watching.ShouldBeTrue("the tree is watched again after the overflow");

        File.WriteAllBytes(Path.Combine(root.FullName, "made-while-full", "p-1.gpkg.tar"), [1]);
        changes.Current().ShouldNotBe(afterOverflow, "a directory made while events were lost is watched too");
    }
}
