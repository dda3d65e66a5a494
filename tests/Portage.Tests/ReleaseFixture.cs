using System.Diagnostics;
using Gentoo.Portage.Binhost;

namespace Gentoo.Portage.Tests;

/// <summary>
/// A builder's volumes as a successful run leaves them, made from the fixtures: the PKGDIR real Portage wrote, the
/// ebuild repository it built from (as /var/db/repos/demo), and a VDB naming the installed instances as Portage
/// records them (CATEGORY/PF directories with BUILD_TIME, and BUILD_ID where it was a binary merge).
/// </summary>
public sealed class ReleaseFixture : IDisposable
{
    public ReleaseFixture()
    {
        Copy(Fixtures.PathOf("portage", "pkgdir"), PkgDir);
        Copy(Fixtures.PathOf("portage", "ebuild-repo"), Repository);
        var index = PackagesIndex.Parse(File.ReadAllText(Path.Combine(PkgDir, "Packages")));
        // Installed after scenario 02: wordcount's second build (the --oneshot rebuild), the first build of the rest.
        Install(index, "app-misc/greeter-1.0", "1", recordBuildId: true);
        Install(index, "app-text/wordcount-0.5-r1", "2", recordBuildId: false);
        Install(index, "dev-libs/libgreet-2.1", "1", recordBuildId: false);
        Install(index, "dev-libs/libkver-0.3", "1", recordBuildId: true);
    }

    public string Directory { get; } = System.IO.Directory.CreateTempSubdirectory("gentoo-release-").FullName;

    public string PkgDir => Path.Combine(Directory, "binpkgs");

    /// <summary>The builder's root volume (the Gentoo system the agent chroots into).</summary>
    public string Root => Path.Combine(Directory, "root");

    public string Repository => Path.Combine(Root, "var", "db", "repos", "demo");

    public string Vdb => Path.Combine(Root, "var", "db", "pkg");

    public IReadOnlyDictionary<string, string> Repositories => new Dictionary<string, string> { ["demo"] = Repository };

    public PackagesIndex PortageIndex => PackagesIndex.Parse(File.ReadAllText(Path.Combine(PkgDir, "Packages")));

    public void Install(PackagesIndex index, string cpv, string buildId, bool recordBuildId)
    {
        var block = index.Packages.Single(p => p["CPV"] == cpv && p["BUILD_ID"] == buildId);
        var entry = Path.Combine(Vdb, cpv.Split('/')[0], cpv.Split('/')[1]);
        System.IO.Directory.CreateDirectory(entry);
        File.WriteAllText(Path.Combine(entry, "BUILD_TIME"), block["BUILD_TIME"] + "\n");
        if (recordBuildId)
        {
            File.WriteAllText(Path.Combine(entry, "BUILD_ID"), buildId + "\n");
        }
    }

    public void Uninstall(string cpv) => System.IO.Directory.Delete(Path.Combine(Vdb, cpv.Split('/')[0], cpv.Split('/')[1]), recursive: true);

    public static (int ExitCode, string Output) Git(string workingDirectory, params string[] args)
    {
        var start = new ProcessStartInfo("git") { WorkingDirectory = workingDirectory, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        start.Environment["GIT_CONFIG_NOSYSTEM"] = "1";
        start.Environment["HOME"] = workingDirectory;
        using var git = Process.Start(start)!;
        var output = git.StandardOutput.ReadToEndAsync();
        var error = git.StandardError.ReadToEndAsync();
        git.WaitForExit();
        return (git.ExitCode, output.Result + error.Result);
    }

    private static void Copy(string from, string to)
    {
        foreach (var file in System.IO.Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
        {
            var target = Path.Combine(to, Path.GetRelativePath(from, file));
            System.IO.Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
    }

    public void Dispose() => System.IO.Directory.Delete(Directory, recursive: true);
}

/// <summary>A fact that needs the git command (to check our snapshots against git itself).</summary>
public sealed class GitFactAttribute : Gentoo.Tests.SkippableFactAttribute
{
    public GitFactAttribute([System.Runtime.CompilerServices.CallerMemberName] string test = "")
        : base(test)
    {
        if (!Environment.GetEnvironmentVariable("PATH")!.Split(':').Any(d => File.Exists(Path.Combine(d, "git"))))
        {
            SkipBecause("git is not installed");
        }
    }
}
