using System.Diagnostics;
using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using Gentoo.Binhost;
using Gentoo.Portage.Binhost;
using Gentoo.Portage.Releases;
using Gentoo.Portage.Tests;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace Gentoo.Operator.Tests.Binhost;

/// <summary>
/// A binhost serving releases, over real HTTP on 127.0.0.1: the PKGDIR real Portage wrote, the ebuild repository it
/// built from, releases made as build pods make them, and clients as Portage syncs (real git, real Chromium).
/// </summary>
public sealed partial class BinhostReleaseTests : IAsyncLifetime
{
    private static readonly DateTimeOffset Time = new(2026, 12, 2, 8, 0, 0, TimeSpan.Zero);
    private readonly ReleaseFixture volumes = new();
    private WebApplication app = null!;
    private HttpClient http = null!;
    private Uri address = null!;

    private ReleaseStore Store => new(volumes.PkgDir);

    public async Task InitializeAsync()
    {
        app = BinhostServer.Build(new BinhostOptions(volumes.PkgDir, "desktops", "127.0.0.1", 0), TimeProvider.System,
            runs: _ => Task.FromResult<IReadOnlyList<PageRun>>([new PageRun("world-8", "AwaitingOperator", Time.UtcDateTime, "app-misc/viewer-1.0 needs ~amd64: accept the keyword", true)]));
        await app.StartAsync();
        address = ListeningAddress.Of(app);
        http = new HttpClient { BaseAddress = address };
    }

    public async Task DisposeAsync()
    {
        http.Dispose();
        await app.DisposeAsync();
        volumes.Dispose();
    }

    private Release MakeRelease(string run) =>
        Store.Create(new ReleaseDraft(ReleaseContents.Select(volumes.PortageIndex, volumes.PkgDir, volumes.Vdb), volumes.Repositories, run, "cfg", Partial: false), Time).Release;

    private async Task<IReadOnlyList<string>> ServedAsync(string path = "/Packages") =>
        [.. PackagesIndex.Parse(await http.GetStringAsync(path)).Packages.Select(p => $"{p["CPV"]}-{p["BUILD_ID"]}")];

    [Fact]
    public async Task Packages_changes_only_when_a_release_is_published_and_rollback_serves_the_earlier_index()
    {
        (await ServedAsync()).Count.ShouldBe(5, "no release yet: the PKGDIR as it is");

        MakeRelease("builds/world-1");
        (await ServedAsync()).ShouldBeEmpty("a release exists but none is published");
        Store.Publish("1", Time);
        var first = await http.GetStringAsync("/Packages");
        (await ServedAsync()).ShouldBe(["app-misc/greeter-1.0-1", "app-text/wordcount-0.5-r1-2", "dev-libs/libgreet-2.1-1", "dev-libs/libkver-0.3-1"]);

        // A run's work in progress (a package built, not released) and a release not yet published change nothing.
        File.Copy(Path.Combine(volumes.PkgDir, "dev-libs/libkver/libkver-0.3-1.gpkg.tar"), Path.Combine(volumes.PkgDir, "dev-libs/libkver/libkver-0.3-2.gpkg.tar"));
        volumes.Uninstall("dev-libs/libkver-0.3");
        MakeRelease("builds/world-2");
        (await http.GetStringAsync("/Packages")).ShouldBe(first);

        Store.Publish("2", Time);
        (await ServedAsync()).ShouldBe(["app-misc/greeter-1.0-1", "app-text/wordcount-0.5-r1-2", "dev-libs/libgreet-2.1-1"]);

        Store.Publish("1", Time);
        (await http.GetStringAsync("/Packages")).ShouldBe(first, "rollback serves exactly the earlier index");
        (await ServedAsync("/releases/2/Packages")).Count.ShouldBe(3, "every kept release stays reachable");
    }

    [Fact]
    public async Task A_pinned_client_gets_the_release_index_and_only_its_files()
    {
        MakeRelease("builds/world-1");
        Store.Publish("1", Time);

        (await http.GetStringAsync("/binrepos.conf?release=1")).ShouldContain($"sync-uri = http://{address.Authority}/releases/1/\n");
        (await http.GetAsync("/releases/1/app-text/wordcount/wordcount-0.5-r1-2.gpkg.tar")).StatusCode.ShouldBe(HttpStatusCode.OK);
        (await http.GetAsync("/releases/1/app-text/wordcount/wordcount-0.5-r1-1.gpkg.tar")).StatusCode.ShouldBe(HttpStatusCode.NotFound, "not in release 1");
        (await http.GetAsync("/releases/1/../Packages")).StatusCode.ShouldBe(HttpStatusCode.NotFound);
        var missing = await http.GetAsync("/binrepos.conf?release=7");
        missing.StatusCode.ShouldBe(HttpStatusCode.NotFound);
        (await missing.Content.ReadAsStringAsync()).ShouldContain("release 7 is not kept here; kept releases: 1");
    }

    [Fact]
    public async Task Releases_and_their_differences_are_listed_as_json()
    {
        MakeRelease("builds/world-1");
        volumes.Uninstall("dev-libs/libkver-0.3");
        MakeRelease("builds/world-2");
        Store.Publish("2", Time);

        using var list = JsonDocument.Parse(await http.GetStringAsync("/releases"));
        list.RootElement.GetProperty("published").GetString().ShouldBe("2");
        list.RootElement.GetProperty("releases").EnumerateArray().Select(r => (r.GetProperty("id").GetString(), r.GetProperty("removed").GetInt32())).ShouldBe([("1", 0), ("2", 1)]);
        using var diff = JsonDocument.Parse(await http.GetStringAsync("/releases/2/diff/1"));
        diff.RootElement.GetProperty("changes").EnumerateArray().Select(c => c.GetString()).ShouldBe(["+ dev-libs/libkver-0.3 (build 1)"]);
    }

    [GitFact]
    public async Task A_client_set_up_as_the_readme_says_syncs_the_snapshot_and_has_an_ebuild_for_every_package_then_follows_a_rollback()
    {
        MakeRelease("builds/world-1");
        Store.Publish("1", Time);
        File.AppendAllText(Path.Combine(volumes.Repository, "app-misc", "greeter", "greeter-1.0.ebuild"), "# release 2\n");
        MakeRelease("builds/world-2");
        Store.Publish("2", Time);

        // curl -fsS URL/client-setup.sh | sh, into a throw-away root.
        var client = Path.Combine(volumes.Directory, "client");
        Directory.CreateDirectory(client);
        var setup = Run(client, "sh", ["-s"], await http.GetStringAsync("/client-setup.sh"), ("ROOT", client));
        setup.ExitCode.ShouldBe(0, setup.Output);
        var reposConf = File.ReadAllText(Path.Combine(client, "etc/portage/repos.conf/zz-gentoo-builder-desktops.conf"));
        var section = Regex.Match(reposConf, @"\[demo\]\nlocation = (?<location>\S+)\nsync-type = git\nsync-uri = (?<uri>\S+)\nclone-depth = 0\nsync-depth = 0\n");
        section.Success.ShouldBeTrue(reposConf);
        var binrepos = File.ReadAllText(Path.Combine(client, "etc/portage/binrepos.conf/desktops.conf"));
        var syncUri = Regex.Match(binrepos, @"sync-uri = (\S+)").Groups[1].Value;

        // What Portage's git sync runs with clone-depth = 0: a full clone into the location.
        var location = client + section.Groups["location"].Value;
        Directory.CreateDirectory(location);
        var clone = ReleaseFixture.Git(location, "clone", "--quiet", section.Groups["uri"].Value, ".");
        clone.ExitCode.ShouldBe(0, clone.Output);

        using var packagesClient = new HttpClient();
        var served = PackagesIndex.Parse(await packagesClient.GetStringAsync(syncUri + "Packages"));
        served.Packages.Count.ShouldBe(4);
        foreach (var package in served.Packages)
        {
            var cpv = package["CPV"]!;
            var (category, pf) = (cpv.Split('/')[0], cpv.Split('/')[1]);
            var name = Gentoo.Portage.Atoms.Atom.SplitVersion(pf)!.Value.Name;
            package["REPO"].ShouldBe("demo");
            File.Exists(Path.Combine(location, category, name, pf + ".ebuild")).ShouldBeTrue($"{cpv}: the client's repository has the ebuild its binary was built from");
            (await packagesClient.GetAsync(syncUri + package["PATH"])).StatusCode.ShouldBe(HttpStatusCode.OK);
        }

        File.ReadAllText(Path.Combine(location, "app-misc/greeter/greeter-1.0.ebuild")).ShouldEndWith("# release 2\n");
        var pinned = ReleaseFixture.Git(location, "ls-remote", $"http://{address.Authority}/releases/1/repos/demo.git");
        pinned.Output.ShouldContain(Store.Get("1")!.Repositories.Single().Commit + "\trefs/heads/main\n", Case.Sensitive, "a pinned release's repository is that release's commit");

        // A rollback reaches the client at its next sync: fetch, then merge (Portage's steps for a non-shallow clone).
        Store.Publish("1", Time.AddHours(1));
        ReleaseFixture.Git(location, "fetch", "--quiet", "origin").ExitCode.ShouldBe(0);
        var merge = ReleaseFixture.Git(location, "merge", "--quiet", "refs/remotes/origin/main");
        merge.ExitCode.ShouldBe(0, merge.Output);
        File.ReadAllText(Path.Combine(location, "app-misc/greeter/greeter-1.0.ebuild")).ShouldNotContain("# release 2");
        ReleaseFixture.Git(location, "rev-parse", "HEAD^{tree}").Output.Trim().ShouldBe(Store.Get("1")!.Repositories.Single().Tree);
    }

    [BrowserFact]
    public async Task The_page_loads_in_a_real_browser_shows_the_releases_and_a_package_and_its_links_resolve()
    {
        MakeRelease("builds/world-1");
        volumes.Uninstall("dev-libs/libkver-0.3");
        MakeRelease("builds/world-2");
        Store.Publish("2", Time);

        var dom = Run(volumes.Directory, BrowserFactAttribute.Chromium!, ["--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", address.ToString()], null);
        dom.ExitCode.ShouldBe(0, dom.Output);
        var html = dom.Output;
        html.ShouldContain("<h1>desktops</h1>");
        html.ShouldContain("id=\"release-2\" class=\"published\"");
        html.ShouldContain("id=\"release-1\"");
        html.ShouldContain("- dev-libs/libkver-0.3 (build 1)");
        html.ShouldContain("<td>app-misc/greeter-1.0</td><td>3.2.0");
        html.ShouldContain("accept the keyword");
        var links = Regex.Matches(html, "href=\"([^\"#]+)\"").Select(m => WebUtility.HtmlDecode(m.Groups[1].Value)).Distinct().ToList();
        links.Count.ShouldBeGreaterThan(8);
        foreach (var link in links)
        {
            (await http.GetAsync(new Uri(address, link))).StatusCode.ShouldBe(HttpStatusCode.OK, link);
        }
    }

    private static (int ExitCode, string Output) Run(string directory, string file, string[] args, string? input, params (string Name, string Value)[] environment)
    {
        var start = new ProcessStartInfo(file) { WorkingDirectory = directory, RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = input is not null };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        foreach (var (name, value) in environment)
        {
            start.Environment[name] = value;
        }

        using var process = Process.Start(start)!;
        if (input is not null)
        {
            process.StandardInput.Write(input);
            process.StandardInput.Close();
        }

        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(2)))
        {
            process.Kill(entireProcessTree: true);
        }

        return (process.ExitCode, output.Result + (process.ExitCode == 0 ? "" : error.Result));
    }
}

/// <summary>A fact that needs a real browser: Debian's chromium (.ci/run installs it), skipped with the reason without one.</summary>
public sealed class BrowserFactAttribute : Gentoo.Tests.SkippableFactAttribute
{
    public static string? Chromium { get; } = new[] { "/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome" }.FirstOrDefault(File.Exists);

    public BrowserFactAttribute([System.Runtime.CompilerServices.CallerMemberName] string test = "")
        : base(test)
    {
        if (Chromium is null)
        {
            SkipBecause("no Chromium (apt-get install chromium)");
        }
    }
}
