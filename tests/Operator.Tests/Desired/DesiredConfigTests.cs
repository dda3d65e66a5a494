using Gentoo.Entities.V1Alpha1;
using Gentoo.ApiServer.Yaml;
using Gentoo.Operator.Desired;

namespace Gentoo.Operator.Tests.Desired;

public sealed class DesiredConfigTests
{
    [Fact]
    public void Inline_configuration_then_config_maps_in_order_become_the_agents_keys()
    {
        var inline = new PortageConfig
        {
            MakeConf = new Dictionary<string, string> { ["COMMON_FLAGS"] = "-O2 -pipe", ["USE"] = "wayland \"quoted\"" },
            PackageUse = [">=media-libs/mesa-24 vulkan"],
            World = ["www-client/firefox"],
        };
        var first = new Dictionary<string, string> { ["package.use.kde"] = "kde-plasma/plasma-meta discover\n", ["make.conf"] = "USE=\"-gnome\"\n" };
        var second = new Dictionary<string, string> { ["package.use"] = "app-editors/vim -X" };

        var data = DesiredConfig.Portage(inline, null, [first, second]);

        data.Keys.ShouldBe(["make.conf", "package.use", "package.use.kde", "world"]);
        data["make.conf"].ShouldBe("COMMON_FLAGS=\"-O2 -pipe\"\nUSE=\"wayland \\\"quoted\\\"\"\nUSE=\"-gnome\"\n");
        data["package.use"].ShouldBe(">=media-libs/mesa-24 vulkan\napp-editors/vim -X\n");
        data["world"].ShouldBe("www-client/firefox\n");
    }

    [Fact]
    public void Repositories_become_repos_conf_with_the_first_as_main()
    {
        var text = DesiredConfig.ReposConf([
            new RepositorySpec { Name = "gentoo", SyncType = SyncType.Git, Uri = "https://github.com/gentoo-mirror/gentoo.git", Branch = "stable" },
            new RepositorySpec { Name = "guru", SyncType = SyncType.Git, Uri = "https://github.com/gentoo-mirror/guru.git", Priority = -100 },
        ]);

        text.ShouldBe("""
            [DEFAULT]
            main-repo = gentoo

            [gentoo]
            location = /var/db/repos/gentoo
            sync-type = git
            sync-uri = https://github.com/gentoo-mirror/gentoo.git
            sync-git-clone-extra-opts = --branch=stable

            [guru]
            location = /var/db/repos/guru
            sync-type = git
            sync-uri = https://github.com/gentoo-mirror/guru.git
            priority = -100

            """.ReplaceLineEndings("\n"));
    }

    [Fact]
    public void A_repository_that_is_never_synced_has_no_sync_type_and_may_live_anywhere_in_the_root()
    {
        var text = DesiredConfig.ReposConf([
            new RepositorySpec { Name = "gentoo", SyncType = SyncType.Webrsync },
            new RepositorySpec { Name = "local", SyncType = SyncType.None, Location = "/usr/local/portage", Priority = 50 },
        ]);

        text.ShouldBe("""
            [DEFAULT]
            main-repo = gentoo

            [gentoo]
            location = /var/db/repos/gentoo
            sync-type = webrsync

            [local]
            location = /usr/local/portage
            priority = 50

            """.ReplaceLineEndings("\n"));
    }

    [Fact]
    public void The_profile_is_the_main_repositorys_wherever_that_repository_lives()
    {
        var bootstrap = new GentooBootstrap
        {
            Metadata = new k8s.Models.V1ObjectMeta { Name = "demo" },
            Spec = new GentooBootstrapSpec
            {
                Profile = "default",
                Repositories = [new RepositorySpec { Name = "demo", SyncType = SyncType.None, Location = "/usr/local/demo" }],
            },
        };

        Gentoo.Operator.Desired.DesiredBootstrap.Config(bootstrap, [])["make.profile"].ShouldBe("/usr/local/demo/profiles/default\n");
    }

    [Fact]
    public void Sample_bootstrap_configuration_becomes_the_keys_the_agent_reads()
    {
        var sample = k8s.KubernetesJson.Deserialize<GentooBootstrap>(
            YamlJson.ReadSingle(File.ReadAllText(Checkout.PathOf("config", "samples", "gentoobuilder_v1alpha1_gentoobootstrap.yaml"))).ToJsonString());
        var configMap = YamlJson.ReadSingle(File.ReadAllText(Checkout.PathOf("config", "samples", "gentoobuilder_v1alpha1_configmap.yaml")))["data"]!
            .AsObject().ToDictionary(p => p.Key, p => p.Value!.GetValue<string>());

        var data = DesiredConfig.Portage(sample.Spec.Portage, sample.Spec.Repositories?.ToList(), [configMap]);

        data.Keys.ShouldBe(["make.conf", "package.accept_keywords", "package.accept_keywords.firefox", "package.license.firmware", "package.use", "package.use.kde", "repos.conf", "world"]);
        data["make.conf"].ShouldContain("BINPKG_FORMAT=\"gpkg\"\n");
        data["repos.conf"].ShouldStartWith("[DEFAULT]\nmain-repo = gentoo\n");
    }
}
