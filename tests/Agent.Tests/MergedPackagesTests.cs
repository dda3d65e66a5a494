using Gentoo.Agent.Kernel;
using Gentoo.Portage.Tests;

namespace Gentoo.Agent.Tests;

public sealed class MergedPackagesTests
{
    [Fact]
    public void Kernel_requirement_comes_from_the_elf_files_the_merged_packages_installed()
    {
        var root = Directory.CreateTempSubdirectory("agent-vdb-");
        var lib = Path.Combine(root.FullName, "usr", "lib64");
        Directory.CreateDirectory(lib);
        File.Copy(Fixtures.PathOf("portage", "elf", "libkver-abi-3.17.0.so"), Path.Combine(lib, "libkver.so.0"));
        File.Copy(Fixtures.PathOf("portage", "elf", "hello-glibc"), Path.Combine(root.FullName, "usr", "hello world"));
        WriteContents(root.FullName, "dev-libs/libkver-0.3", "dir /usr/lib64", "obj /usr/lib64/libkver.so.0 6f1ed002ab5595859014ebf0951522d9 1795570785");
        WriteContents(root.FullName, "app-misc/hello-1", "obj /usr/hello world 0b7e4c0f4b6a30a3b6e9ed7f1bbd3b1a 1795570785", "sym /usr/bin/hi -> ../hello world 1795570785");

        var report = MergedPackages.Scan(root.FullName, ["dev-libs/libkver-0.3", "app-misc/hello-1", "app-misc/gone-2"]);

        report.Required.ToString().ShouldBe("3.17.0");
        report.RequiringFiles.Select(f => Path.GetFileName(f.Path)).ShouldBe(["libkver.so.0"]);
        report.Files.Count.ShouldBe(2, "the path with a space is read whole");
        report.Errors.ShouldHaveSingleItem().ShouldStartWith("app-misc/gone-2");
        root.Delete(recursive: true);
    }

    private static void WriteContents(string root, string cpv, params string[] lines)
    {
        var directory = Path.Combine(root, "var", "db", "pkg", cpv);
        Directory.CreateDirectory(directory);
        File.WriteAllLines(Path.Combine(directory, "CONTENTS"), lines);
    }
}
