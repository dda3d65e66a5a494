using Gentoo.Agent.Config;

namespace Gentoo.Agent.Tests;

public sealed class ManagedConfigTests : IDisposable
{
    private readonly DirectoryInfo root = Directory.CreateTempSubdirectory("agent-root-");
    private readonly DirectoryInfo config = Directory.CreateTempSubdirectory("agent-config-");

    public void Dispose()
    {
        root.Delete(recursive: true);
        config.Delete(recursive: true);
    }

    private string Portage(params string[] parts) => Path.Combine([root.FullName, "etc", "portage", .. parts]);

    private void Key(string name, string text) => File.WriteAllText(Path.Combine(config.FullName, name), text);

    [Fact]
    public void Package_files_in_a_directory_get_a_managed_file_of_their_own_beside_the_persons()
    {
        Directory.CreateDirectory(Portage("package.use"));
        File.WriteAllText(Portage("package.use", "mine"), "app-editors/vim -X\n");
        Key("package.use", "media-libs/mesa vulkan\n");
        Key("package.use.kde", "kde-plasma/plasma-meta discover\n");

        ManagedConfig.Apply(config.FullName, root.FullName);

        File.ReadAllText(Portage("package.use", "mine")).ShouldBe("app-editors/vim -X\n");
        File.ReadAllText(Portage("package.use", "zz-gentoo-builder")).ShouldBe(ManagedConfig.BeginMarker + "\nmedia-libs/mesa vulkan\n");
        File.ReadAllText(Portage("package.use", "zz-gentoo-builder-kde")).ShouldEndWith("kde-plasma/plasma-meta discover\n");
    }

    [Fact]
    public void The_profile_becomes_a_relative_make_profile_link_and_follows_a_change()
    {
        Directory.CreateDirectory(Portage());
        File.CreateSymbolicLink(Portage("make.profile"), "../../var/db/repos/gentoo/profiles/default/linux/amd64/23.0");
        Key("make.profile", "/var/db/repos/gentoo/profiles/default/linux/amd64/23.0/desktop/plasma\n");

        ManagedConfig.Apply(config.FullName, root.FullName).ShouldContain(Portage("make.profile"));
        new FileInfo(Portage("make.profile")).LinkTarget.ShouldBe("../../var/db/repos/gentoo/profiles/default/linux/amd64/23.0/desktop/plasma");
        ManagedConfig.Apply(config.FullName, root.FullName).ShouldBeEmpty();
    }

    [Theory]
    [InlineData("default/linux/amd64/23.0")]
    [InlineData("/var/db/repos/gentoo/profiles/../../../../etc")]
    public void A_profile_outside_the_repositories_is_refused_naming_the_key(string profile)
    {
        Key("make.profile", profile);

        Should.Throw<ConfigException>(() => ManagedConfig.Apply(config.FullName, root.FullName)).Message.ShouldStartWith("configuration key make.profile:");
    }

    [Fact]
    public void A_git_tree_laid_out_like_etc_portage_is_applied_after_the_configmap_keys()
    {
        var tree = Directory.CreateDirectory(Path.Combine(config.FullName, "..", Path.GetRandomFileName(), "portage")).FullName;
        File.WriteAllText(Path.Combine(tree, "make.conf"), "USE=\"wayland\"\n");
        Directory.CreateDirectory(Path.Combine(tree, "package.use"));
        File.WriteAllText(Path.Combine(tree, "package.use", "kde"), "kde-plasma/plasma-meta discover\n");
        File.WriteAllText(Path.Combine(tree, "package.accept_keywords"), "app-editors/neovim:0 ~amd64\n");
        Directory.CreateDirectory(Path.Combine(tree, "env"));
        Directory.CreateDirectory(Path.Combine(tree, ".git"));
        Key("make.conf", "FEATURES=\"buildpkg\"\n");
        var said = new List<string>();

        ManagedConfig.Apply(config.FullName, [tree], root.FullName, said.Add);

        File.ReadAllText(Portage("make.conf")).ShouldContain("FEATURES=\"buildpkg\"\nUSE=\"wayland\"\n");
        File.ReadAllText(Portage("package.use")).ShouldContain("kde-plasma/plasma-meta discover");
        File.ReadAllText(Portage("package.accept_keywords")).ShouldContain("app-editors/neovim:0 ~amd64");
        said.ShouldHaveSingleItem().ShouldContain("env is not managed configuration");
        Directory.Delete(Path.GetDirectoryName(tree)!, recursive: true);
    }

    [Fact]
    public void A_missing_git_tree_is_refused_naming_it()
    {
        Should.Throw<ConfigException>(() => ManagedConfig.Apply(config.FullName, ["/nonexistent/portage"], root.FullName, _ => { }))
            .Message.ShouldStartWith("configuration tree /nonexistent/portage does not exist");
    }

    [Fact]
    public void A_file_a_person_keeps_gets_only_a_marked_block_and_their_lines_stay()
    {
        Directory.CreateDirectory(Portage());
        File.WriteAllText(Portage("make.conf"), "# my settings\nCOMMON_FLAGS=\"-O2 -pipe\"\n");
        Key("make.conf", "FEATURES=\"buildpkg\"\n");

        ManagedConfig.Apply(config.FullName, root.FullName);
        Key("make.conf", "FEATURES=\"buildpkg binpkg-signing\"\n");
        ManagedConfig.Apply(config.FullName, root.FullName);

        File.ReadAllText(Portage("make.conf")).ShouldBe(
            $"# my settings\nCOMMON_FLAGS=\"-O2 -pipe\"\n{ManagedConfig.BeginMarker}\nFEATURES=\"buildpkg binpkg-signing\"\n{ManagedConfig.EndMarker}\n");
    }

    [Fact]
    public void Every_make_conf_portage_reads_is_accepted()
    {
        Key("make.conf", """
            # values spanning lines, as make.conf.example writes them
            FEATURES="buildpkg
              binpkg-multi-instance"
            COMMON_FLAGS='-O2 -pipe -march=native'
            CFLAGS="${COMMON_FLAGS}"
            CXXFLAGS=${CFLAGS}
            export MAKEOPTS="-j8 -l8"
            GENTOO_MIRRORS = "https://distfiles.gentoo.org"
            USE="wayland \
              -X"
            VIDEO_CARDS=amdgpu\ radeonsi
            EMPTY=""
            source /etc/portage/make.conf.local
            ACCEPT_LICENSE="-* @FREE" # trailing comment
            """);

        ManagedConfig.Apply(config.FullName, root.FullName);

        File.ReadAllText(Portage("make.conf")).ShouldContain("FEATURES=\"buildpkg\n  binpkg-multi-instance\"\n");
    }

    [Fact]
    public void Each_key_of_one_file_keeps_its_own_block_and_a_persons_lines_stay()
    {
        Directory.CreateDirectory(Portage());
        File.WriteAllText(Portage("package.use"), "app-editors/vim -X\n");
        Key("package.use", "sys-apps/fileinfo zlib\n");
        Key("package.use.fixes", "media-libs/mesa vulkan\n");
        Key("package.use.kde", "kde-plasma/plasma-meta discover\n");

        ManagedConfig.Apply(config.FullName, root.FullName);

        var text = File.ReadAllText(Portage("package.use"));
        text.ShouldStartWith("app-editors/vim -X\n");
        foreach (var line in new[] { "sys-apps/fileinfo zlib", "media-libs/mesa vulkan", "kde-plasma/plasma-meta discover" })
        {
            text.ShouldContain(line + "\n", Case.Sensitive, "no key's lines are dropped");
        }

        ManagedConfig.Apply(config.FullName, root.FullName).ShouldBeEmpty();
        Key("package.use.fixes", "media-libs/mesa vulkan\ndev-lang/rust system-llvm\n");
        File.Delete(Path.Combine(config.FullName, "package.use.kde"));
        ManagedConfig.Apply(config.FullName, root.FullName).ShouldBe([Portage("package.use")]);

        File.ReadAllText(Portage("package.use")).ShouldBe(
            $"app-editors/vim -X\n{ManagedConfig.BlockBegin(null)}\nsys-apps/fileinfo zlib\n{ManagedConfig.BlockEnd(null)}\n"
            + $"{ManagedConfig.BlockBegin("fixes")}\nmedia-libs/mesa vulkan\ndev-lang/rust system-llvm\n{ManagedConfig.BlockEnd("fixes")}\n");
        File.Delete(Path.Combine(config.FullName, "package.use"));
        File.Delete(Path.Combine(config.FullName, "package.use.fixes"));
        ManagedConfig.Apply(config.FullName, root.FullName);
        File.ReadAllText(Portage("package.use")).ShouldBe("app-editors/vim -X\n");
    }

    [Fact]
    public void Removed_keys_remove_only_what_the_agent_wrote()
    {
        Directory.CreateDirectory(Portage("package.accept_keywords"));
        File.WriteAllText(Portage("package.accept_keywords", "mine"), "app-misc/foo ~amd64\n");
        Key("package.accept_keywords", "www-client/firefox:rapid ~amd64\n");
        ManagedConfig.Apply(config.FullName, root.FullName);

        File.Delete(Path.Combine(config.FullName, "package.accept_keywords"));
        var changed = ManagedConfig.Apply(config.FullName, root.FullName);

        File.Exists(Portage("package.accept_keywords", "zz-gentoo-builder")).ShouldBeFalse();
        File.ReadAllText(Portage("package.accept_keywords", "mine")).ShouldBe("app-misc/foo ~amd64\n");
        changed.ShouldHaveSingleItem();
    }

    [Fact]
    public void World_only_gains_atoms()
    {
        var world = Path.Combine(root.FullName, "var", "lib", "portage", "world");
        Directory.CreateDirectory(Path.GetDirectoryName(world)!);
        File.WriteAllText(world, "app-editors/vim\n");
        Key("world", "www-client/firefox\napp-editors/vim\n");

        ManagedConfig.Apply(config.FullName, root.FullName);

        File.ReadAllLines(world).ShouldBe(["app-editors/vim", "www-client/firefox"]);
    }

    [Fact]
    public void Applying_the_same_configuration_again_changes_nothing()
    {
        Key("package.use", "media-libs/mesa vulkan\n");
        Key("make.conf", "USE=\"wayland\"\n");
        ManagedConfig.Apply(config.FullName, root.FullName);

        ManagedConfig.Apply(config.FullName, root.FullName).ShouldBeEmpty();
    }

    [Theory]
    [InlineData("package.colour", "x", "unknown configuration key 'package.colour'")]
    [InlineData("package.use", "media-libs/mesa vulkan\nfirefox +wayland\n", "configuration key package.use, line 2: atom 'firefox': expected category/package")]
    [InlineData("make.conf", "USE=\"x\"\nthis is not a variable\n", "configuration key make.conf, line 2: expected NAME=\"value\" after this, got 'is'")]
    [InlineData("make.conf", "USE=\"x\"\nCFLAGS=-O2 -pipe\n", "configuration key make.conf, line 2: the value of CFLAGS goes on after a space ('-pipe'): quote a value that holds spaces")]
    [InlineData("make.conf", "# mine\n\nFEATURES=\"buildpkg\n  binpkg-multi-instance\n", "configuration key make.conf, line 3: the double quote opened here is never closed")]
    [InlineData("make.conf", "2FAST=\"x\"\n", "configuration key make.conf, line 1: expected a variable name")]
    public void Bad_configuration_is_refused_naming_the_key_and_line(string key, string text, string says)
    {
        Key(key, text);

        Should.Throw<ConfigException>(() => ManagedConfig.Apply(config.FullName, root.FullName)).Message.ShouldContain(says);
    }

    [Fact]
    public void Missing_configuration_directory_is_a_clear_error()
    {
        Should.Throw<ConfigException>(() => ManagedConfig.Apply("/no/such/config", root.FullName)).Message
            .ShouldBe("configuration directory /no/such/config does not exist (is the ConfigMap mounted?)");
    }
}
