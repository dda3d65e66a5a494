using System.Text;
using Gentoo.Entities.V1Alpha1;
using Gentoo.Operator.Desired;
using Gentoo.Portage.Kernels;
using Gentoo.Protocol;
using k8s.Models;

namespace Gentoo.Local.Tests;

/// <summary>The operator's own pods as Docker containers on one machine.</summary>
public sealed class PodContainersTests
{
    private const string PodDirectory = "/var/lib/gentoo-builder/pods/u-pod-1";

    private static GentooBuilder Builder() => new()
    {
        Metadata = new V1ObjectMeta { Name = "desktop", NamespaceProperty = "builds", Uid = "u-builder" },
        Spec = new GentooBuilderSpec
        {
            BootstrapRef = new LocalReference { Name = "stage3" },
            Resources = new V1ResourceRequirements { Limits = new Dictionary<string, ResourceQuantity> { ["cpu"] = new("1500m"), ["memory"] = new("2Gi") } },
            Signing = new SigningSpec { KeySecretRef = new SecretKeyReference { Name = "desktop-key" } },
        },
    };

    private static V1Pod BuildPod(string uid = "u-pod-1")
    {
        var run = new BuildRun
        {
            Metadata = new V1ObjectMeta { Name = "firefox", NamespaceProperty = "builds", Uid = "u-run" },
            Spec = new BuildRunSpec { BuilderRef = new LocalReference { Name = "desktop" }, Packages = ["www-client/firefox"] },
        };
        var pod = DesiredBuildPod.Build(run, Builder(), 1, KernelVersion.Parse("6.1"), new PodSettings("gentoo-builder:local"));
        pod.Metadata.Uid = uid;
        return pod;
    }

    /// <summary>A bootstrap's pod: the one that runs in the stage3 image, with the agent copied in.</summary>
    private static V1Pod BootstrapPod(string uid = "u-pod-1")
    {
        var bootstrap = new GentooBootstrap
        {
            Metadata = new V1ObjectMeta { Name = "stage3", NamespaceProperty = "builds", Uid = "u-bootstrap" },
            Spec = new GentooBootstrapSpec { Stage3 = new Stage3Source { Image = "gentoo/stage3:local" }, Profile = "default/linux/amd64/23.0" },
        };
        var pod = DesiredBootstrap.Pod(bootstrap, 1, new PodSettings("gentoo-builder:local"));
        pod.Metadata.Uid = uid;
        return pod;
    }

    private static Dictionary<string, V1Secret> NoSecrets() => [];

    private static Dictionary<string, V1ConfigMap> BootstrapConfigMaps() =>
        new[] { DesiredBootstrap.ConfigMapName("stage3"), DesiredBootstrap.PlanConfigMapName("stage3") }
            .ToDictionary(n => n, n => new V1ConfigMap { Metadata = new V1ObjectMeta { Name = n }, Data = new Dictionary<string, string> { ["make.conf"] = "USE=\"-X\"\n" } });

    /// <summary>The builder's configuration, as its ConfigMap holds it (its fixes ConfigMap, which is optional, not made yet).</summary>
    private static Dictionary<string, V1ConfigMap> ConfigMaps(V1Pod pod) =>
        new() { ["desktop-portage"] = new V1ConfigMap { Metadata = new V1ObjectMeta { Name = "desktop-portage" }, Data = new Dictionary<string, string> { ["package.use"] = "app-editors/vim -X\n" } } };

    /// <summary>Each claim the pod names, bound to a volume named as local mode names them on machine "m".</summary>
    private static Dictionary<string, string> Bound(V1Pod pod) =>
        pod.Spec.Volumes.Where(v => v.PersistentVolumeClaim is not null).Select(v => v.PersistentVolumeClaim.ClaimName).Distinct()
            .ToDictionary(c => c, c => LocalNames.ClaimVolume("m", pod.Metadata.NamespaceProperty, c));

    private static Dictionary<string, V1Secret> Secrets(V1Pod pod) =>
        pod.Spec.Volumes.Where(v => v.Secret is not null).ToDictionary(v => v.Secret.SecretName,
            v => new V1Secret
            {
                Metadata = new V1ObjectMeta { Name = v.Secret.SecretName },
                Data = v.Secret.Items.ToDictionary(i => i.Key, _ => Encoding.ASCII.GetBytes("-----BEGIN PGP PRIVATE KEY BLOCK-----")),
            });

    [Fact]
    public void A_build_pod_is_one_container_of_the_operator_image_running_its_agent_on_the_claims_docker_volumes()
    {
        var pod = BuildPod();
        var plan = PodContainers.Plan(pod, "this-machine", PodDirectory, ConfigMaps(pod), Secrets(pod), Bound(pod));

        plan.InitContainers.ShouldBeEmpty("the root volume holds the system: nothing to copy the agent into");
        var build = plan.Containers.ShouldHaveSingleItem();
        build.PodContainer.ShouldBe(AgentPod.Container);
        build.Image.ShouldBe("gentoo-builder:local");
        build.Entrypoint.ShouldBe([AgentPod.AgentInImage]);
        build.User.ShouldBe("0", "the operator image's own user is not root; the pod's securityContext makes the agent root");
        build.Command!.ShouldContain("www-client/firefox");

        // Each claim mounts the named volume it is bound to (by machine, namespace and claim), so the binary packages outlive pods and builders.
        plan.ClaimVolumes.ShouldBe(["gentoo-builder.m.builds.desktop-root", "gentoo-builder.m.builds.desktop-binpkgs", "gentoo-builder.m.builds.desktop-distfiles"], ignoreOrder: true);
        build.Mounts.ShouldContain(new ContainerMount(MountKind.Volume, "gentoo-builder.m.builds.desktop-root", AgentPod.RootMount, false));

        // A claim not bound to a volume is not mounted as an empty one: the pod waits, as a kubelet's does.
        Should.Throw<PodPlanException>(() => PodContainers.Plan(pod, "this-machine", PodDirectory, ConfigMaps(pod), Secrets(pod), new Dictionary<string, string>()))
            .Message.ShouldBe("persistentvolumeclaim \"desktop-root\" is not bound to a volume");
        plan.ScratchDirectories.ShouldBeEmpty();
    }

    [Fact]
    public void A_bootstrap_pod_copies_the_agent_into_the_stage3_container_through_a_scratch_volume_first()
    {
        var pod = BootstrapPod();
        var plan = PodContainers.Plan(pod, "this-machine", PodDirectory, BootstrapConfigMaps(), NoSecrets(), Bound(pod));

        plan.InitContainers.Select(c => c.PodContainer).ShouldBe(["agent"]);
        plan.InitContainers[0].Image.ShouldBe("gentoo-builder:local");
        var bootstrap = plan.Containers.ShouldHaveSingleItem();
        bootstrap.Image.ShouldBe("gentoo/stage3:local");
        bootstrap.Entrypoint.ShouldBe([AgentPod.AgentDirectory + "/gentoo-agent"]);
        bootstrap.User.ShouldBe("0");
        // The agent travels in the pod's scratch volume, shared by the two containers and gone with the pod.
        plan.ScratchDirectories.ShouldBe([PodDirectory + "/volumes/agent"]);
        plan.InitContainers[0].Mounts.ShouldContain(m => m.Kind == MountKind.Bind && m.Source == PodDirectory + "/volumes/agent" && m.Target == AgentPod.AgentDirectory && !m.ReadOnly);
        bootstrap.Mounts.ShouldContain(m => m.Kind == MountKind.Bind && m.Source == PodDirectory + "/volumes/agent" && m.Target == AgentPod.AgentDirectory && m.ReadOnly);
    }

    [Fact]
    public void The_build_runs_privileged_as_root_within_the_builders_limits_and_leaves_its_report_in_a_file_of_this_machine()
    {
        var plan = PodContainers.Plan(BuildPod(), "this-machine", PodDirectory, ConfigMaps(BuildPod()), Secrets(BuildPod()), Bound(BuildPod()));
        var build = plan.Containers[0];

        build.Privileged.ShouldBeTrue();
        build.User.ShouldBe("0");
        build.NanoCpus.ShouldBe(1_500_000_000);
        build.MemoryBytes.ShouldBe(2L * 1024 * 1024 * 1024);
        build.TerminationMessagePath.ShouldBe(AgentPod.TerminationLog);
        build.FallbackToLogsOnError.ShouldBeTrue();
        // Docker's /dev is a tmpfs that goes with the container: the report is written to a file bind-mounted from here.
        var file = PodContainers.TerminationMessageFile(PodDirectory, AgentPod.Container);
        build.Mounts.ShouldContain(new ContainerMount(MountKind.Bind, file, AgentPod.TerminationLog, false));
        plan.Files.ShouldContain(f => f.Path == file && f.Content.Length == 0);
        build.Labels[LocalNames.PodUidLabel].ShouldBe("u-pod-1");
        build.Labels[LocalNames.ContainerLabel].ShouldBe(AgentPod.Container);
        build.Labels[LocalNames.NodeLabel].ShouldBe("this-machine");
    }

    [Fact]
    public void ConfigMap_files_are_readable_and_secret_files_are_the_owners_alone_and_never_in_the_environment()
    {
        var pod = BuildPod();
        var plan = PodContainers.Plan(pod, "this-machine", PodDirectory, ConfigMaps(pod), Secrets(pod), Bound(pod));

        var configFile = plan.Files.First(f => f.Path.EndsWith("/package.use", StringComparison.Ordinal));
        configFile.Mode.ShouldBe(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        Encoding.UTF8.GetString(configFile.Content).ShouldBe("app-editors/vim -X\n");
        configFile.Path.ShouldStartWith(PodDirectory + "/volumes/");
        var keyFile = plan.Files.Single(f => f.Path.EndsWith("/" + DesiredSigning.DefaultKey, StringComparison.Ordinal));
        keyFile.Mode.ShouldBe(UnixFileMode.UserRead);
        plan.Containers[0].Environment.ShouldNotContain(e => e.Contains("PGP", StringComparison.Ordinal));
        plan.Containers[0].Mounts.Where(m => m.Source.StartsWith(PodDirectory + "/volumes/", StringComparison.Ordinal)).ShouldAllBe(m => m.ReadOnly && m.Kind == MountKind.Bind);
    }

    [Fact]
    public void A_builder_that_narrows_the_agents_privileges_gets_exactly_the_capabilities_it_names()
    {
        var pod = BuildPod();
        pod.Spec.Containers[0].SecurityContext = new V1SecurityContext { RunAsUser = 0, Capabilities = new V1Capabilities { Add = ["SYS_ADMIN", "SYS_CHROOT"], Drop = ["NET_RAW"] } };

        var build = PodContainers.Plan(pod, "n", PodDirectory, ConfigMaps(pod), Secrets(pod), Bound(pod)).Containers[0];
        build.Privileged.ShouldBeFalse();
        build.AddCapabilities.ShouldBe(["SYS_ADMIN", "SYS_CHROOT"]);
        build.DropCapabilities.ShouldBe(["NET_RAW"]);
    }

    [Fact]
    public void A_pod_re_created_under_its_name_gets_new_containers_but_the_same_claim_volumes()
    {
        // The kubelet keeps each pod's files by its uid.
        var first = PodContainers.Plan(BootstrapPod("11111111-aaaa"), "n", "/var/lib/gentoo-builder/pods/11111111-aaaa", BootstrapConfigMaps(), NoSecrets(), Bound(BootstrapPod("11111111-aaaa")));
        var second = PodContainers.Plan(BootstrapPod("22222222-bbbb"), "n", "/var/lib/gentoo-builder/pods/22222222-bbbb", BootstrapConfigMaps(), NoSecrets(), Bound(BootstrapPod("22222222-bbbb")));

        second.Containers[0].Name.ShouldNotBe(first.Containers[0].Name);
        second.ClaimVolumes.ShouldBe(first.ClaimVolumes);
        second.ScratchDirectories.ShouldNotBe(first.ScratchDirectories);
    }

    [Fact]
    public void What_one_machine_cannot_run_is_refused_naming_the_volume_key_or_variable()
    {
        var pod = BuildPod();
        Should.Throw<PodPlanException>(() => PodContainers.Plan(pod, "n", PodDirectory, new Dictionary<string, V1ConfigMap>(), Secrets(pod), Bound(pod)))
            .Message.ShouldContain("configmap \"desktop-portage\" not found");

        var nfs = BuildPod();
        nfs.Spec.Volumes.Add(new V1Volume { Name = "shared", Nfs = new V1NFSVolumeSource { Server = "nas", Path = "/export" } });
        var refused = Should.Throw<PodPlanException>(() => PodContainers.Plan(nfs, "n", PodDirectory, ConfigMaps(nfs), Secrets(nfs), Bound(nfs)));
        refused.Reason.ShouldBe(PodContainers.ConfigError);
        refused.Message.ShouldContain("volume shared");

        var secretEnv = BuildPod();
        secretEnv.Spec.Containers[0].Env = [new V1EnvVar { Name = "TOKEN", ValueFrom = new V1EnvVarSource { SecretKeyRef = new V1SecretKeySelector { Name = "t", Key = "k" } } }];
        Should.Throw<PodPlanException>(() => PodContainers.Plan(secretEnv, "n", PodDirectory, ConfigMaps(secretEnv), Secrets(secretEnv), Bound(secretEnv)))
            .Message.ShouldContain("env TOKEN");

        var escape = BuildPod();
        escape.Spec.Volumes.Single(v => v.Projected is not null).Projected.Sources[0].ConfigMap.Items = [new V1KeyToPath { Key = "package.use", Path = "../../etc/passwd" }];
        Should.Throw<PodPlanException>(() => PodContainers.Plan(escape, "n", PodDirectory, ConfigMaps(escape), Secrets(escape), Bound(escape)))
            .Message.ShouldContain("'..'");
    }

    [Fact]
    public void The_environment_carries_values_and_the_pods_own_fields()
    {
        var pod = BuildPod();
        pod.Spec.Containers[0].Env =
        [
            new V1EnvVar { Name = "PLAIN", Value = "yes" },
            new V1EnvVar { Name = "POD", ValueFrom = new V1EnvVarSource { FieldRef = new V1ObjectFieldSelector { FieldPath = "metadata.name" } } },
            new V1EnvVar { Name = "NODE", ValueFrom = new V1EnvVarSource { FieldRef = new V1ObjectFieldSelector { FieldPath = "spec.nodeName" } } },
        ];

        PodContainers.Plan(pod, "this-machine", PodDirectory, ConfigMaps(pod), Secrets(pod), Bound(pod)).Containers[0].Environment
            .ShouldBe(["PLAIN=yes", "POD=" + pod.Metadata.Name, "NODE=this-machine"]);
    }

    [Fact]
    public void The_builders_binhost_is_published_on_the_chosen_address_at_its_services_port_to_the_container_that_declares_the_target()
    {
        var builder = Builder();
        var deployment = DesiredBinhost.Deployment(builder, "gentoo-builder:local", followsBuilds: false, node: null);
        var pod = new V1Pod { Metadata = new V1ObjectMeta { Name = "binhost", NamespaceProperty = "builds", Uid = "u-binhost", Labels = deployment.Spec.Template.Metadata.Labels }, Spec = deployment.Spec.Template.Spec };
        var service = DesiredBinhost.Service(builder, "LoadBalancer");
        var elsewhere = DesiredBinhost.Service(builder, "LoadBalancer");
        elsewhere.Spec.Selector = new Dictionary<string, string> { ["app"] = "something-else" };

        var publicKey = new Dictionary<string, V1ConfigMap> { ["desktop-signing-public"] = new() { Metadata = new V1ObjectMeta { Name = "desktop-signing-public" }, Data = new Dictionary<string, string> { ["key.asc"] = "armored" } } };
        var plan = PodContainers.Plan(pod, "vm", PodDirectory, publicKey, new Dictionary<string, V1Secret>(), Bound(pod),
            new ServiceExposure([service, elsewhere, DesiredBinhost.Service(builder, "ClusterIP")], "192.168.1.10"));

        plan.Containers.Single().Ports.ShouldBe([new PublishedPort("192.168.1.10", DesiredBinhost.ServicePort, DesiredBinhost.ContainerPort, "tcp")]);
    }

    [Fact]
    public void A_reduced_privilege_grants_exactly_the_capabilities_the_engines_bounding_set_holds()
    {
        // This project's CI machine: every capability up to CHECKPOINT_RESTORE but SYS_RESOURCE (bit 24).
        var capabilities = PrivilegeFallback.Capabilities(0x1fffeffffffUL);

        capabilities.ShouldContain("SYS_ADMIN");
        capabilities.ShouldContain("MKNOD");
        capabilities.ShouldNotContain("SYS_RESOURCE");
        capabilities.Count.ShouldBe(37, "CAP_CHOWN to CAP_AUDIT_READ but one; the three newer ones older engines refuse");
        PrivilegeFallback.IsCapabilityRefusal("runc create failed: unable to start container process: unable to apply caps: operation not permitted").ShouldBeTrue();
    }
}
