using Gentoo.Portage.Repositories;

namespace Gentoo.Portage.Tests;

public sealed class EbuildRepositoriesTests : IDisposable
{
    private readonly DirectoryInfo repos = Directory.CreateTempSubdirectory("repos-");

    public void Dispose() => repos.Delete(recursive: true);

    private string Repository(string name, params (string Path, string Text)[] files)
    {
        var root = Path.Combine(repos.FullName, name);
        foreach (var (path, text) in files)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.Combine(root, path))!);
            File.WriteAllText(Path.Combine(root, path), text);
        }

        Directory.CreateDirectory(root);
        return root;
    }

    [Fact]
    public void The_slot_comes_from_the_metadata_cache_without_its_sub_slot()
    {
        var gentoo = Repository("gentoo",
            ("metadata/md5-cache/dev-lang/python-3.13.1", "DEFINED_PHASES=compile\nSLOT=3.13/3.13\nKEYWORDS=~amd64\n"),
            ("dev-lang/python/python-3.13.1.ebuild", "SLOT=\"${PV%.*}\"\n"));

        EbuildRepositories.SlotOf([gentoo], "dev-lang/python-3.13.1").ShouldBe("3.13");
    }

    [Theory]
    [InlineData("app-misc/nightly-0.9", "0")]
    [InlineData("dev-libs/libkver-0.3", "0")]
    [InlineData("app-misc/nightly-1.0", null)]
    [InlineData("app-misc/absent-1", null)]
    [InlineData("not an atom", null)]
    public void Without_a_cache_a_literal_slot_of_the_ebuild_is_read(string cpv, string? slot) =>
        EbuildRepositories.SlotOf([Fixtures.PathOf("portage", "ebuild-repo")], cpv).ShouldBe(slot);

    [Fact]
    public void A_slot_made_of_variables_is_left_unknown_and_gentoo_is_asked_first()
    {
        var overlay = Repository("aa-overlay", ("dev-lang/rust/rust-1.90.0.ebuild", "SLOT=\"${PV}\"\n"), ("sys-devel/gcc/gcc-15.1.ebuild", "SLOT=\"15-overlay\"\n"));
        var gentoo = Repository("gentoo", ("sys-devel/gcc/gcc-15.1.ebuild", "# GCC\nEAPI=8\n  SLOT='15' # major version\n"));
        var ordered = EbuildRepositories.Under(repos.FullName);

        ordered.ShouldBe([gentoo, overlay]);
        EbuildRepositories.SlotOf(ordered, "dev-lang/rust-1.90.0").ShouldBeNull();
        EbuildRepositories.SlotOf(ordered, "sys-devel/gcc-15.1").ShouldBe("15");
        EbuildRepositories.Under(Path.Combine(repos.FullName, "missing")).ShouldBeEmpty();
    }
}
