using Gentoo.Entities.V1Alpha1;
using Gentoo.Operator.Decisions;
using Gentoo.Operator.Desired;
using k8s.Models;

namespace Gentoo.Operator.Tests.Decisions;

public sealed class ClaimChecksTests
{
    private static readonly GentooBuilder Builder = new()
    {
        Metadata = new V1ObjectMeta { Name = "desktop", NamespaceProperty = "ns", Uid = "new-uid" },
        Spec = new GentooBuilderSpec { BootstrapRef = new LocalReference { Name = "desktop" } },
    };

    private static V1PersistentVolumeClaim Desired(string volume) =>
        DesiredVolumes.Builder(Builder, RootSource.CopyOf("desktop-bootstrap-root")).Single(c => c.Metadata.Labels[ObjectLabels.Volume] == volume);

    private static V1PersistentVolumeClaim Existing(V1PersistentVolumeClaim desired, V1OwnerReference? owner, IDictionary<string, string>? labels = null, bool deleting = false) => new()
    {
        Metadata = new V1ObjectMeta
        {
            Name = desired.Metadata.Name, NamespaceProperty = "ns", OwnerReferences = owner is null ? null : [owner], Labels = labels ?? desired.Metadata.Labels,
            DeletionTimestamp = deleting ? DateTime.UtcNow : null,
        },
    };

    private static V1OwnerReference Owner(string kind, string name, string uid) => new() { Kind = kind, Name = name, Uid = uid, Controller = true, ApiVersion = "gentoobuilder.io/v1alpha1" };

    private static V1Pod Pod(string name, string claim) => new()
    {
        Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = "ns" },
        Spec = new V1PodSpec { Volumes = [new V1Volume { Name = "root", PersistentVolumeClaim = new V1PersistentVolumeClaimVolumeSource { ClaimName = claim } }] },
    };

    [Fact]
    public void The_builders_own_claim_and_its_retained_package_volume_are_usable()
    {
        ClaimChecks.Check(Existing(Desired("root"), Owner(GentooBuilder.KubeKind, "desktop", "new-uid")), Desired("root"), Builder, []).ShouldBeNull();
        ClaimChecks.Check(Existing(Desired("binpkgs"), owner: null), Desired("binpkgs"), Builder, []).ShouldBeNull("a retained package volume of an earlier builder of the name is taken up again");
    }

    [Fact]
    public void A_bootstraps_claim_or_a_persons_claim_under_the_name_is_a_conflict_only_a_person_resolves()
    {
        var bootstraps = ClaimChecks.Check(Existing(Desired("root"), Owner(GentooBootstrap.KubeKind, "desktop", "b-uid")), Desired("root"), Builder, [])!;
        bootstraps.Reason.ShouldBe(Reasons.NameConflict);
        bootstraps.Stalled.ShouldBeTrue();
        bootstraps.Message.ShouldContain("PersistentVolumeClaim desktop-root already exists and belongs to GentooBootstrap desktop");

        var persons = ClaimChecks.Check(Existing(Desired("binpkgs"), owner: null, labels: new Dictionary<string, string> { ["app"] = "mine" }), Desired("binpkgs"), Builder, [])!;
        persons.Reason.ShouldBe(Reasons.NameConflict);
    }

    [Fact]
    public void A_claim_being_deleted_is_waited_for_naming_the_pods_that_hold_it()
    {
        var problem = ClaimChecks.Check(Existing(Desired("root"), Owner(GentooBuilder.KubeKind, "desktop", "old-uid"), deleting: true), Desired("root"), Builder,
            [Pod("firefox-1", "desktop-root"), Pod("other", "elsewhere"), Pod("desktop-update-1", "desktop-root")])!;

        problem.Reason.ShouldBe(Reasons.VolumeTerminating);
        problem.Stalled.ShouldBeFalse();
        problem.Message.ShouldBe("PersistentVolumeClaim desktop-root is being deleted; pods still naming it: desktop-update-1, firefox-1 (a finished pod counts too; delete it to let the claim go)");
    }

    [Fact]
    public void An_earlier_builders_claim_not_yet_collected_is_waited_for()
    {
        var problem = ClaimChecks.Check(Existing(Desired("distfiles"), Owner(GentooBuilder.KubeKind, "desktop", "old-uid")), Desired("distfiles"), Builder, [])!;

        problem.Reason.ShouldBe(Reasons.VolumeTerminating);
        problem.Message.ShouldContain("earlier GentooBuilder desktop");
    }
}
