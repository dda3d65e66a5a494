using System.Diagnostics;
using System.Net;
using Gentoo.Binhost;
using Gentoo.Portage.Binhost;

namespace Gentoo.Operator.Tests.Binhost;

/// <summary>
/// The binhost on a PKGDIR as a real volume holds it: ext4's root-owned 0700 lost+found, which the binhost's own
/// account (uid 65532 in its pod) cannot enter, and links a person made. The binhost runs as its own process, as that
/// account when the tests run as root (as CI does), else as the tester with lost+found closed to them.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class BinhostVolumeTests : IDisposable
{
    private const int BinhostUser = 65532;
    private readonly DirectoryInfo pkgdir = Directory.CreateTempSubdirectory("binhost-volume-");

    public void Dispose()
    {
        var lostFound = Path.Combine(pkgdir.FullName, "lost+found");
        if (Directory.Exists(lostFound))
        {
            File.SetUnixFileMode(lostFound, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }

        pkgdir.Delete(recursive: true);
    }

    [Fact]
    public async Task An_unenterable_lost_and_found_and_links_out_of_the_pkgdir_leave_the_index_whole_and_nothing_outside_is_listed()
    {
        Checkout.CopyDirectory(Checkout.PathOf("tests", "Fixtures", "portage", "pkgdir"), pkgdir);
        File.SetUnixFileMode(pkgdir.FullName, (UnixFileMode)0b111_101_101);
        var lostFound = Directory.CreateDirectory(Path.Combine(pkgdir.FullName, "lost+found"));
        File.WriteAllText(Path.Combine(lostFound.FullName, "#1234"), "a file fsck found");
        var asRoot = Environment.UserName == "root";
        File.SetUnixFileMode(lostFound.FullName, asRoot ? UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute : UnixFileMode.None);
        Directory.CreateSymbolicLink(Path.Combine(pkgdir.FullName, "everything"), "/");
        var expected = PackageFile.Scan(Checkout.PathOf("tests", "Fixtures", "portage", "pkgdir")).Count;
        var (log, port) = await ServeAsync(async (http, binhost) =>
        {
            var response = await AnswerAsync(http, binhost);

            response.StatusCode.ShouldBe(HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
            var index = PackagesIndex.Parse(await response.Content.ReadAsStringAsync());
            index.Packages.Count.ShouldBe(expected);
            index.Packages.ShouldAllBe(p => !p["PATH"]!.StartsWith("everything/", StringComparison.Ordinal) && !p["PATH"]!.StartsWith("lost+found/", StringComparison.Ordinal));
            (await http.GetAsync(new Uri("everything/etc/hostname", UriKind.Relative))).StatusCode.ShouldBe(HttpStatusCode.NotFound);
        });

        log.ShouldContain($"INF Gentoo.Binhost: Serving {pkgdir.FullName} as gentoo-builder on http://127.0.0.1:{port} (unsigned, builds on demand off)");
        log.ShouldNotContain("Microsoft.", customMessage: "ASP.NET Core's start-up lines stay out: the binhost says once what it serves where");
        log.ShouldContain($"{AccessLog.Category}: GET /Packages 200 ", customMessage: "the access log's lines, written in batches, are all out once the binhost stopped");
        log.ShouldContain($"{AccessLog.Category}: GET /everything/etc/hostname 404 ");
        log.ShouldNotContain("looked at again for each /Packages request", customMessage: "a lost+found it may not read does not stop the binhost watching the PKGDIR");
        log.ShouldContain("lost+found in the PKGDIR is not served");
        log.ShouldContain("everything in the PKGDIR is not served: a symbolic link");
        log.Split("lost+found in the PKGDIR is not served").Length.ShouldBe(2, "said once, not on every request");
    }

    [Fact]
    public async Task The_binhost_process_answers_many_requests_at_once_for_packages_kept_and_read_on_the_thread_pool_byte_for_byte()
    {
        // The process as its pod runs it: requests answered on the polling threads, a package above 64 KB read on the pool.
        Checkout.CopyDirectory(Checkout.PathOf("tests", "Fixtures", "portage", "pkgdir"), pkgdir);
        File.SetUnixFileMode(pkgdir.FullName, (UnixFileMode)0b111_101_101);
        var large = new byte[3 * 1024 * 1024 + 17];
        new Random(18).NextBytes(large);
        var largePath = Path.Combine(pkgdir.FullName, "app-misc", "greeter", "large-1.0-1.gpkg.tar");
        File.WriteAllBytes(largePath, large);
        File.SetUnixFileMode(largePath, (UnixFileMode)0b110_100_100);
        var small = File.ReadAllBytes(Path.Combine(pkgdir.FullName, "app-misc", "greeter", "greeter-1.0-1.gpkg.tar"));
        var (log, _) = await ServeAsync(async (http, binhost) =>
        {
            (await AnswerAsync(http, binhost)).StatusCode.ShouldBe(HttpStatusCode.OK);
            var answers = await Task.WhenAll(Enumerable.Range(0, 48).Select(async i =>
            {
                var path = i % 3 == 0 ? "app-misc/greeter/large-1.0-1.gpkg.tar" : "app-misc/greeter/greeter-1.0-1.gpkg.tar";
                return (Path: path, Bytes: await http.GetByteArrayAsync(new Uri(path, UriKind.Relative)));
            }));

            answers.Where(a => a.Path.Contains("large", StringComparison.Ordinal)).ShouldAllBe(a => a.Bytes.SequenceEqual(large));
            answers.Where(a => !a.Path.Contains("large", StringComparison.Ordinal)).ShouldAllBe(a => a.Bytes.SequenceEqual(small));
        });

        log.Split($"{AccessLog.Category}: GET /app-misc/greeter/").Length.ShouldBe(49, "a line for each request, all out once the binhost stopped");
    }

    /// <summary>
    /// Runs the binhost on the PKGDIR as its own process, as its pod runs it (as the binhost's account when the tests
    /// run as root, as CI does, else as the tester), for <paramref name="requests"/>; stops it and returns what it logged.
    /// </summary>
    private async Task<(string Log, int Port)> ServeAsync(Func<HttpClient, Process, Task> requests)
    {
        var port = OperatorProcess.FreePort();
        var asRoot = Environment.UserName == "root";
        var start = new ProcessStartInfo(asRoot ? "setpriv" : "dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in (string[])[.. asRoot ? ["--reuid", $"{BinhostUser}", "--regid", $"{BinhostUser}", "--clear-groups", "dotnet"] : Array.Empty<string>(),
                     Path.Combine(AppContext.BaseDirectory, "gentoo-operator.dll"), "binhost", "--pkgdir", pkgdir.FullName, "--bind-address", "127.0.0.1", "--port", $"{port}"])
        {
            start.ArgumentList.Add(arg);
        }

        start.Environment["HOME"] = Path.GetTempPath();
        using var binhost = Process.Start(start)!;
        var errors = binhost.StandardError.ReadToEndAsync();
        var output = binhost.StandardOutput.ReadToEndAsync();
        try
        {
            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}/") };
            await requests(http, binhost);
        }
        finally
        {
            await StopAsync(binhost);
        }

        return (await output + await errors, port);
    }

    /// <summary>Stops the binhost as Kubernetes does (SIGTERM), and kills it only if it does not go.</summary>
    private static async Task StopAsync(Process binhost)
    {
        using (var term = Process.Start("kill", ["-TERM", binhost.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
        {
            await term.WaitForExitAsync();
        }

        using var patience = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        try
        {
            await binhost.WaitForExitAsync(patience.Token);
        }
        catch (OperationCanceledException)
        {
            binhost.Kill(entireProcessTree: true);
            await binhost.WaitForExitAsync();
        }
    }

    private static async Task<HttpResponseMessage> AnswerAsync(HttpClient http, Process binhost)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            try
            {
                await http.GetAsync(new Uri("Packages", UriKind.Relative)); // the first look; the second must say nothing new
                return await http.GetAsync(new Uri("Packages", UriKind.Relative));
            }
            catch (HttpRequestException) when (DateTime.UtcNow < deadline && !binhost.HasExited)
            {
                await Task.Delay(100);
            }
        }
    }
}
