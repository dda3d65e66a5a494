using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Gentoo.ApiServer.Yaml;
using Gentoo.Operator.Tests.Chart;

namespace Gentoo.Operator.Tests.Plugin;

/// <summary>The krew release: real archives of the plugin and a manifest that names them with their sha256.</summary>
public sealed class KrewReleaseTests : IDisposable
{
    private readonly DirectoryInfo work = Directory.CreateTempSubdirectory("krew-");

    public void Dispose() => work.Delete(recursive: true);

    [ToolFact("git")]
    public void The_release_script_makes_an_archive_krew_can_install_and_a_manifest_with_its_sha256()
    {
        var release = Tools.Run("bash", "hack/krew-release.sh", "9.9.9", work.FullName, "linux-amd64");
        release.ExitCode.ShouldBe(0, release.Error);

        var manifest = (JsonObject)YamlJson.ReadDocuments(File.ReadAllText(Path.Combine(work.FullName, "gentoo.yaml"))).Single()!;
        manifest["spec"]!["version"]!.GetValue<string>().ShouldBe("v9.9.9");
        var platform = manifest["spec"]!["platforms"]!.AsArray().ShouldHaveSingleItem()!;
        platform["selector"]!["matchLabels"]!["os"]!.GetValue<string>().ShouldBe("linux");
        platform["selector"]!["matchLabels"]!["arch"]!.GetValue<string>().ShouldBe("amd64");
        platform["uri"]!.GetValue<string>().ShouldEndWith("/v9.9.9/kubectl-gentoo-linux-amd64.tar.gz");
        var archive = Path.Combine(work.FullName, "kubectl-gentoo-linux-amd64.tar.gz");
        platform["sha256"]!.GetValue<string>().ShouldBe(Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(archive))));
        var committed = (JsonObject)YamlJson.ReadDocuments(File.ReadAllText(Checkout.PathOf("plugins", "krew", "gentoo.yaml"))).Single()!;
        manifest["spec"]!["description"]!.GetValue<string>().ShouldBe(committed["spec"]!["description"]!.GetValue<string>());

        // What krew does: unpack, and run the bin the manifest names.
        Tools.Run("tar", "-xzf", archive, "-C", work.FullName).ExitCode.ShouldBe(0);
        var help = Executable.Run(Path.Combine(work.FullName, platform["bin"]!.GetValue<string>()), work.FullName, "--help");
        help.ExitCode.ShouldBe(0, help.Output);
        help.Output.ShouldContain("explain");
    }
}
