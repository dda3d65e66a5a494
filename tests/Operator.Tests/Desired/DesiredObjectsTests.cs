using Gentoo.Entities.V1Alpha1;
using Gentoo.Operator.Desired;
using Gentoo.Portage.Kernels;
using k8s.Models;

namespace Gentoo.Operator.Tests.Desired;

public sealed class DesiredObjectsTests
{
    private static GentooBuilder Builder(RetainPolicy retain = RetainPolicy.Retain) => new()
    {
        Metadata = new V1ObjectMeta { Name = "plasma-desktop", NamespaceProperty = "builds", Uid = "u-builder" },
        Spec = new GentooBuilderSpec
        {
            BootstrapRef = new LocalReference { Name = "plasma-desktop" },
            Storage = new BuilderStorage { Binpkgs = new BinpkgsVolumeSpec { Size = "100Gi", RetainPolicy = retain, StorageClassName = "fast" } },
            Resources = new V1ResourceRequirements { Limits = new Dictionary<string, ResourceQuantity> { ["cpu"] = new("7500m"), ["memory"] = new("24Gi") } },
            NodeSelector = new Dictionary<string, string> { ["kubernetes.io/arch"] = "amd64" },
        },
    };

    private static BuildRun Run(string name = "firefox") => new()
    {
        Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = "builds", Uid = "u-run" },
        Spec = new BuildRunSpec
        {
            BuilderRef = new LocalReference { Name = "plasma-desktop" },
            Packages = ["www-client/firefox"],
            EmergeArgs = ["--update", "--deep"],
            KeepGoing = true,
        },
    };

    [Fact]
    public void Builder_volumes_restore_the_root_and_keep_binary_packages_unless_asked_to_delete_them()
    {
        var claims = DesiredVolumes.Builder(Builder(), RootSource.Snapshot("plasma-desktop-bootstrap-1"));

        claims.Select(c => c.Metadata.Name).ShouldBe(["plasma-desktop-root", "plasma-desktop-binpkgs", "plasma-desktop-distfiles"]);
        var root = claims[0];
        root.Spec.DataSource.ShouldBeEquivalentTo(new V1TypedLocalObjectReference { ApiGroup = "snapshot.storage.k8s.io", Kind = "VolumeSnapshot", Name = "plasma-desktop-bootstrap-1" });
        root.Spec.Resources.Requests["storage"].ToString().ShouldBe("60Gi");
        root.Metadata.OwnerReferences.ShouldHaveSingleItem().Uid.ShouldBe("u-builder");
        var binpkgs = claims[1];
        binpkgs.Metadata.OwnerReferences.ShouldBeNull("retained binary packages must survive the builder");
        binpkgs.Spec.StorageClassName.ShouldBe("fast");
        binpkgs.Spec.Resources.Requests["storage"].ToString().ShouldBe("100Gi");
        DesiredVolumes.Builder(Builder(RetainPolicy.Delete), RootSource.CopyOf("plasma-desktop-root"))[1].Metadata.OwnerReferences.ShouldHaveSingleItem();
    }

    [Fact]
    public void Root_copied_from_a_volume_starts_empty_and_a_copy_pod_fills_it_once()
    {
        var root = DesiredVolumes.Builder(Builder(), RootSource.CopyOf("plasma-desktop-root"))[0];
        root.Spec.DataSource.ShouldBeNull("storage that cannot snapshot cannot clone either");

        var copy = DesiredBuilderPods.CopyRoot(Builder(), "plasma-desktop-root", "registry.local/gentoo-builder:1.0");
        copy.Spec.Volumes.Single(v => v.Name == "source").PersistentVolumeClaim.ClaimName.ShouldBe("plasma-desktop-root");
        copy.Spec.Volumes.Single(v => v.Name == "source").PersistentVolumeClaim.ReadOnlyProperty.ShouldBe(true);
        copy.Spec.Volumes.Single(v => v.Name == "root").PersistentVolumeClaim.ClaimName.ShouldBe(root.Metadata.Name);
        var script = copy.Spec.Containers.Single().Command.Last();
        script.ShouldContain("cp -a /mnt/source/. /mnt/gentoo/");
        script.IndexOf(DesiredBuilderPods.CopyMarker, StringComparison.Ordinal).ShouldBeLessThan(script.IndexOf("cp -a", StringComparison.Ordinal),
            "a copy that already finished is not repeated");
    }

    [Fact]
    public void Build_pod_is_one_container_running_the_agent_of_the_operator_image_as_root_on_the_builders_volumes()
    {
        var pod = DesiredBuildPod.Build(Run(), Builder(), 2, KernelVersion.Parse("6.1"), new PodSettings("registry.local/gentoo-builder:1.0"));

        pod.Metadata.Name.ShouldBe("firefox-2");
        pod.Metadata.OwnerReferences.ShouldHaveSingleItem().Uid.ShouldBe("u-run");
        pod.Spec.RestartPolicy.ShouldBe("Never");
        pod.Spec.TerminationGracePeriodSeconds.ShouldBe(330);
        pod.Spec.InitContainers.ShouldBeEmpty("the root volume holds the system: the agent needs no Gentoo image to run in");
        var build = pod.Spec.Containers.ShouldHaveSingleItem();
        build.Image.ShouldBe("registry.local/gentoo-builder:1.0");
        build.Command.ShouldBe(["/opt/gentoo-builder/gentoo-agent"]);
        pod.Spec.SecurityContext.RunAsUser.ShouldBe(0, "the operator image's user is not root");
        pod.Spec.Volumes.ShouldNotContain(v => v.Name == "agent");
        build.Args.ShouldBe([
            "build", "--root", "/mnt/gentoo", "--config", "/etc/gentoo-builder/config", "--binpkgs", "/mnt/binpkgs", "--distfiles", "/mnt/distfiles",
            "--package", "www-client/firefox", "--emerge-arg", "--update", "--emerge-arg", "--deep", "--keep-going", "--keyword-scope", "Slot",
            "--signing-key", "/etc/gentoo-builder/signing/signing.asc", "--release-run", "builds/firefox", "--publish", "newest", "--keep-releases", "5",
            "--cpus", "8", "--grace-period", "300",
        ]);
        var exact = Builder();
        exact.Spec.KeywordScope = KeywordScope.Version;
        DesiredBuildPod.Build(Run(), exact, 1, null, new PodSettings("registry.local/gentoo-builder:1.0")).Spec.Containers[0].Args
            .ShouldContain("Version", "the agent proposes keyword changes at the builder's keywordScope");
        var key = pod.Spec.Volumes.Single(v => v.Name == "signing").Secret;
        key.SecretName.ShouldBe("plasma-desktop-signing-key", "no keySecretRef: the key the operator makes");
        key.Items.ShouldHaveSingleItem().Key.ShouldBe("signing.asc");
        key.DefaultMode.ShouldBe(256, "readable by root only (0400)");
        build.SecurityContext.Privileged.ShouldBe(true);
        build.TerminationMessagePolicy.ShouldBe("FallbackToLogsOnError");
        build.Env.Select(v => $"{v.Name}={v.Value}").ShouldBe(["DOTNET_GCGen0MaxBudget=0x600000", "DOTNET_GCgen0size=0x400000"], "the agent's GC settings");
        pod.Spec.Volumes.Where(v => v.PersistentVolumeClaim is not null).Select(v => v.PersistentVolumeClaim.ClaimName)
            .ShouldBe(["plasma-desktop-root", "plasma-desktop-binpkgs", "plasma-desktop-distfiles"]);
        pod.Spec.Volumes.Single(v => v.Name == "config").Projected.Sources.Select(p => p.ConfigMap.Name).ShouldBe(["plasma-desktop-portage", "plasma-desktop-fixes"]);
        pod.Spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms[0].MatchExpressions[0].Values.ShouldBe(["393471"]);
        pod.Spec.NodeSelector["kubernetes.io/arch"].ShouldBe("amd64");
    }

    [Fact]
    public void Only_build_pods_of_a_signing_builder_get_the_secret_key_and_the_binhost_gets_only_the_public_one()
    {
        var own = Builder();
        own.Spec.Signing = new SigningSpec { KeySecretRef = new SecretKeyReference { Name = "desktops-key", Key = "key.asc" } };
        var unsigned = Builder();
        unsigned.Spec.Signing = new SigningSpec { Unsigned = true };
        var settings = new PodSettings("registry.local/gentoo-builder:1.0");

        var pod = DesiredBuildPod.Build(Run(), own, 1, null, settings);
        pod.Spec.Volumes.Single(v => v.Name == "signing").Secret.ShouldSatisfyAllConditions(
            s => s.SecretName.ShouldBe("desktops-key"),
            s => s.Items.Single().Key.ShouldBe("key.asc"),
            s => s.Items.Single().Path.ShouldBe("signing.asc"));
        DesiredBuilderPods.Maintenance(own, AgentStep.Update, "1", null, settings).Spec.Volumes.ShouldNotContain(v => v.Secret != null, "update pods do not build packages");
        var shell = DesiredBuilderPods.Maintenance(own, AgentStep.Shell, "1", null, settings);
        shell.Spec.Volumes.Single(v => v.Name == "signing").Secret.SecretName.ShouldBe("desktops-key", "what a person emerges in a shell is signed too");
        shell.Spec.Containers[0].Args.ShouldContain("--signing-key");
        var binhost = DesiredBinhost.Deployment(own, "registry.local/gentoo-builder:1.0", true, null).Spec.Template.Spec;
        binhost.Volumes.ShouldNotContain(v => v.Secret != null);
        binhost.Volumes.Single(v => v.Name == "signing").ConfigMap.Name.ShouldBe("plasma-desktop-signing-public");
        binhost.Containers[0].Args.ShouldContain("/etc/gentoo-binhost/signing/public.asc");

        var plain = DesiredBuildPod.Build(Run(), unsigned, 1, null, settings);
        plain.Spec.Volumes.ShouldNotContain(v => v.Name == "signing");
        plain.Spec.Containers[0].Args.ShouldNotContain("--signing-key");
        DesiredBinhost.Deployment(unsigned, "registry.local/gentoo-builder:1.0", true, null).Spec.Template.Spec.Containers[0].Args.ShouldNotContain("--signing-key");
    }

    [Fact]
    public void The_binhost_follows_the_builds_unless_its_volume_attaches_on_many_nodes()
    {
        var builder = Builder();
        var once = DesiredVolumes.Builder(builder, RootSource.CopyOf("stage3-root")).Single(c => c.Metadata.Name == "plasma-desktop-binpkgs");
        once.Spec.AccessModes.ShouldBe(["ReadWriteOnce"]);
        DesiredBinhost.FollowsBuilds(builder, null).ShouldBeTrue();
        var pinned = DesiredBinhost.Deployment(builder, "registry.local/gentoo-builder:1.0", true, "node-a").Spec;
        pinned.Template.Spec.NodeSelector["kubernetes.io/hostname"].ShouldBe("node-a");
        pinned.Strategy.Type.ShouldBe("Recreate", "a pinned binhost lets go of the volume before the next one starts, wherever it goes");
        DesiredBinhost.Deployment(builder, "registry.local/gentoo-builder:1.0", true, null).Spec.Strategy.Type.ShouldBe("Recreate", "also before the first build");

        var shared = Builder();
        shared.Spec.Storage = new BuilderStorage { Binpkgs = new BinpkgsVolumeSpec { AccessMode = VolumeAccessMode.ReadWriteMany } };
        var many = DesiredVolumes.Builder(shared, RootSource.CopyOf("stage3-root")).Single(c => c.Metadata.Name == "plasma-desktop-binpkgs");
        many.Spec.AccessModes.ShouldBe(["ReadWriteMany"]);
        DesiredBinhost.FollowsBuilds(shared, null).ShouldBeFalse("the spec asks until the volume is seen");
        DesiredBinhost.FollowsBuilds(shared, once).ShouldBeTrue("a retained ReadWriteOnce volume is what there is");
        DesiredBinhost.FollowsBuilds(builder, many).ShouldBeFalse();
        var anywhere = DesiredBinhost.Deployment(shared, "registry.local/gentoo-builder:1.0", false, "node-a").Spec;
        (anywhere.Template.Spec.NodeSelector ?? new Dictionary<string, string>()).ShouldNotContainKey("kubernetes.io/hostname");
        anywhere.Strategy.Type.ShouldBe("RollingUpdate");
        DesiredBinhost.Differs(new V1Deployment { Spec = pinned }, DesiredBinhost.Deployment(shared, "registry.local/gentoo-builder:1.0", false, null)).ShouldBeTrue();
    }

    [Fact]
    public void Pod_name_is_deterministic_and_valid_for_long_run_names()
    {
        var name = new string('a', 70);

        var pod = DesiredBuildPod.PodName(name, 12);

        pod.Length.ShouldBeLessThanOrEqualTo(63);
        pod.ShouldEndWith("-12");
        DesiredBuildPod.PodName(name, 12).ShouldBe(pod);
        DesiredBuildPod.PodName(new string('a', 69) + "b", 12).ShouldNotBe(pod);
    }

    [Theory]
    [InlineData(null, null, null)]
    [InlineData("500m", null, 1)]
    [InlineData("4", "8", 8)]
    [InlineData(null, "2", 2)]
    public void Cpu_limit_or_request_becomes_whole_cpus(string? request, string? limit, int? cpus)
    {
        var resources = new V1ResourceRequirements
        {
            Requests = request is null ? null : new Dictionary<string, ResourceQuantity> { ["cpu"] = new(request) },
            Limits = limit is null ? null : new Dictionary<string, ResourceQuantity> { ["cpu"] = new(limit) },
        };

        DesiredAgentPod.Cpus(resources).ShouldBe(cpus);
    }
}
