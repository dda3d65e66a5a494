using Gentoo.Entities.V1Alpha1;
using Gentoo.Binhost;
using Gentoo.Portage.Binhost;
using k8s.Models;

namespace Gentoo.Operator.Tests.Binhost;

public sealed class OnDemandRequestsTests
{
    private static readonly DateTime Now = new(2026, 11, 25, 12, 0, 0, DateTimeKind.Utc);

    private static PackagesIndex Index() => PackagesIndex.Parse(File.ReadAllText(Checkout.PathOf("tests", "Fixtures", "portage", "pkgdir", "Packages")));

    private static BuildRun Run(string name, BuildRunPhase? phase, DateTime created, bool onDemand = true, params string[] packages) => new()
    {
        Metadata = new V1ObjectMeta
        {
            Name = name,
            CreationTimestamp = created,
            Labels = onDemand ? new Dictionary<string, string> { [OnDemandRequests.Label] = "true" } : null,
        },
        Spec = new BuildRunSpec { BuilderRef = new LocalReference { Name = "desktop" }, Packages = packages },
        Status = new BuildRunStatus { Phase = phase },
    };

    [Theory]
    [InlineData("@world", "not sets")]
    [InlineData("vim", "expected an atom such as app-editors/vim")]
    [InlineData("!app-editors/vim", "blocker")]
    public void Requests_that_are_not_packages_are_refused_naming_the_one_at_fault(string package, string why)
    {
        var (atoms, error) = OnDemandRequests.Parse(["app-editors/vim", package]);

        atoms.ShouldBeNull();
        error!.ShouldContain($"'{package}'");
        error!.ShouldContain(why);
        OnDemandRequests.Parse([]).Error!.ShouldContain("no packages");
        OnDemandRequests.Parse([.. Enumerable.Repeat("app-editors/vim", 33)]).Error!.ShouldContain("at most 32");
    }

    [Fact]
    public void Only_atoms_no_indexed_package_satisfies_are_still_to_build()
    {
        var (atoms, _) = OnDemandRequests.Parse(["dev-libs/libkver", ">=dev-libs/libkver-0.4", "app-editors/vim", "dev-libs/libkver:0", "app-editors/vim", "<app-text/wordcount-1"]);

        OnDemandRequests.NotBuilt(atoms!, Index()).ShouldBe([">=dev-libs/libkver-0.4", "app-editors/vim"]);
    }

    [Fact]
    public void An_open_on_demand_run_with_every_atom_covers_the_request_and_a_finished_or_scheduled_one_does_not()
    {
        var runs = new[]
        {
            Run("done", BuildRunPhase.Succeeded, Now.AddMinutes(-50), true, "app-editors/vim"),
            Run("nightly", BuildRunPhase.Running, Now.AddMinutes(-40), false, "app-editors/vim"),
            Run("partial", BuildRunPhase.Queued, Now.AddMinutes(-30), true, "app-editors/vim"),
            Run("both", BuildRunPhase.Queued, Now.AddMinutes(-20), true, "app-editors/vim", "app-misc/screen"),
        };

        OnDemandRequests.Covering(runs, "desktop", ["app-editors/vim", "app-misc/screen"])!.Metadata.Name.ShouldBe("both");
        OnDemandRequests.Covering(runs, "desktop", ["app-editors/vim"])!.Metadata.Name.ShouldBe("partial", "the oldest open one");
        OnDemandRequests.Covering(runs, "desktop", ["app-misc/tmux"]).ShouldBeNull();
        OnDemandRequests.Covering(runs, "laptop", ["app-editors/vim"]).ShouldBeNull();
    }

    [Fact]
    public void The_hourly_allowance_counts_on_demand_runs_of_the_past_hour_and_says_when_the_next_is_allowed()
    {
        var runs = new[]
        {
            Run("old", BuildRunPhase.Succeeded, Now.AddMinutes(-70)),
            Run("a", BuildRunPhase.Succeeded, Now.AddMinutes(-45)),
            Run("b", BuildRunPhase.Failed, Now.AddMinutes(-10)),
            Run("nightly", BuildRunPhase.Running, Now.AddMinutes(-5), onDemand: false),
        };

        OnDemandRequests.RetryAfter(runs, "desktop", 3, Now).ShouldBeNull();
        OnDemandRequests.RetryAfter(runs, "desktop", 2, Now).ShouldBe(TimeSpan.FromMinutes(15), "when 'a' stops counting");
        OnDemandRequests.RetryAfter(runs, "desktop", 1, Now).ShouldBe(TimeSpan.FromMinutes(50), "when 'b' stops counting");
        OnDemandRequests.RetryAfter(runs, "laptop", 1, Now).ShouldBeNull();
    }
}
