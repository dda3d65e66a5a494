using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using Gentoo.Binhost;
using k8s;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace Gentoo.Operator.Tests.Binhost;

/// <summary>
/// The binhost under attack, over raw TCP so that no client library tidies a request first: traversal in every
/// encoding, links out of the PKGDIR, absurd Range headers, and the build-request endpoint's token, body and pace.
/// A secret file sits beside the PKGDIR and /etc/passwd beyond it; no byte of either may ever come back.
/// </summary>
public sealed class BinhostAttackTests : IAsyncLifetime
{
    private const string Token = "the-right-token-0123456789abcdef";
    private const string Package = "/dev-libs/libkver/libkver-0.3-1.gpkg.tar";

    private readonly DirectoryInfo work = Directory.CreateTempSubdirectory("binhost-attack-");
    private readonly string marker = "SECRET-" + Guid.NewGuid().ToString("N");
    private WebApplication app = null!;
    private Uri address = null!;

    private string PackageDirectory => Path.Combine(work.FullName, "pkgdir");

    public async Task InitializeAsync()
    {
        var pkgdir = work.CreateSubdirectory("pkgdir");
        Checkout.CopyDirectory(Checkout.PathOf("tests", "Fixtures", "portage", "pkgdir"), pkgdir);
        File.WriteAllText(Path.Combine(work.FullName, "secret.txt"), marker);
        File.WriteAllText(Path.Combine(work.FullName, "token"), Token);
        Directory.CreateSymbolicLink(Path.Combine(PackageDirectory, "outside"), work.FullName);
        File.CreateSymbolicLink(Path.Combine(PackageDirectory, "escape"), Path.Combine(work.FullName, "secret.txt"));
        File.CreateSymbolicLink(Path.Combine(PackageDirectory, "app-misc", "leak-1.0-1.gpkg.tar"), "/etc/passwd");
        File.WriteAllText(Path.Combine(PackageDirectory, ".hidden"), marker);
        // The endpoint refuses before it would ask the cluster anything: a client for an address nothing listens on.
        var nowhere = new k8s.Kubernetes(new KubernetesClientConfiguration { Host = "http://127.0.0.1:9" });
        var onDemand = new OnDemandBuilds(nowhere, "ns", "desktop", 10, TimeProvider.System);
        app = BinhostServer.Build(new BinhostOptions(PackageDirectory, "desktop", "127.0.0.1", 0) { OnDemandTokenFile = Path.Combine(work.FullName, "token") }, TimeProvider.System, onDemand);
        await app.StartAsync();
        address = ListeningAddress.Of(app);
    }

    public async Task DisposeAsync()
    {
        await app.DisposeAsync();
        work.Delete(recursive: true);
    }

    /// <summary>Sends bytes as they are and reads the answer until the server closes (or 10 s pass).</summary>
    private async Task<(int Status, string Text)> RawAsync(string request, TimeSpan? timeout = null)
    {
        using var client = new TcpClient();
        await client.ConnectAsync(address.Host, address.Port);
        await using var stream = client.GetStream();
        await stream.WriteAsync(Encoding.Latin1.GetBytes(request));
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(10));
        var answer = new MemoryStream();
        try
        {
            await stream.CopyToAsync(answer, cts.Token);
        }
        catch (Exception e) when (e is IOException or OperationCanceledException)
        {
            // A reset after the answer, or a server still holding the connection: judge what came.
        }

        var text = Encoding.Latin1.GetString(answer.ToArray());
        var status = text.StartsWith("HTTP/1.1 ", StringComparison.Ordinal) ? int.Parse(text.AsSpan(9, 3), System.Globalization.CultureInfo.InvariantCulture) : 0;
        return (status, text);
    }

    private Task<(int Status, string Text)> GetAsync(string target, string headers = "") =>
        RawAsync($"GET {target} HTTP/1.1\r\nHost: {address.Authority}\r\n{headers}Connection: close\r\n\r\n");

    private void NothingLeaked((int Status, string Text) answer, string what)
    {
        answer.Text.ShouldNotContain(marker, customMessage: what);
        answer.Text.ShouldNotContain("root:x:0:0", customMessage: what);
        answer.Status.ShouldBeLessThan(500, what);
    }

    /// <summary>Every way of writing "go up a directory" and "/" that servers and proxies have been fooled by.</summary>
    public static IEnumerable<string> TraversalTargets()
    {
        string[] dots = ["..", "%2e%2e", "%2E%2E", ".%2e", "%2e.", "%252e%252e", "%c0%ae%c0%ae", "%e0%80%ae%e0%80%ae", "..%00", "%uff0e%uff0e"];
        string[] slashes = ["/", "%2f", "%2F", "%5c", "\\", "%252f", "%c0%af"];
        string[] prefixes = ["/", "/app-misc/", "/releases/1/", "/repos/gentoo.git/", "/releases/1/repos/gentoo.git/objects/pack/"];
        foreach (var prefix in prefixes)
        {
            foreach (var dot in dots)
            {
                foreach (var slash in slashes)
                {
                    var up = string.Concat(Enumerable.Repeat(dot + slash, 6));
                    yield return prefix + up + "secret.txt";
                    yield return prefix + up + "etc" + slash + "passwd";
                }
            }
        }

        yield return "//etc/passwd";
        yield return "/%2fetc%2fpasswd";
        yield return "/outside/secret.txt";
        yield return "/outside/pkgdir/../secret.txt";
        yield return "/escape";
        yield return "/app-misc/leak-1.0-1.gpkg.tar";
        yield return "/.hidden";
        yield return "/%2ehidden";
        yield return "/app-misc/greeter%00/../../secret.txt";
        yield return "/app-misc/greeter/greeter-1.0-1.gpkg.tar%00.txt";
        yield return "/app-misc\\..\\..\\secret.txt";
        yield return "/Packages/../../secret.txt";
        yield return "/releases/../../secret.txt";
        yield return "/releases/1/diff/../../../secret.txt";
        yield return "http://127.0.0.1/../secret.txt";
        yield return "file:///etc/passwd";
        yield return "/" + new string('a', 9000);
        yield return "/" + string.Concat(Enumerable.Repeat("../", 3000)) + "etc/passwd";
    }

    [Fact]
    public async Task Hundreds_of_traversal_requests_never_serve_a_byte_from_outside_the_pkgdir_and_the_server_stays_up()
    {
        var targets = TraversalTargets().ToList();
        targets.Count.ShouldBeGreaterThanOrEqualTo(100);

        foreach (var target in targets)
        {
            NothingLeaked(await GetAsync(target), target);
        }

        var good = await GetAsync(Package);
        good.Status.ShouldBe(200, "the server is up and serves what is inside");
        NothingLeaked(good, Package);
    }

    [Fact]
    public async Task Absurd_range_headers_are_answered_without_harm_and_the_server_stays_up()
    {
        var size = new FileInfo(Path.Combine(PackageDirectory, Package.TrimStart('/'))).Length;
        string[] ranges =
        [
            "bytes=" + string.Join(',', Enumerable.Range(0, 2000).Select(i => $"{i}-{i}")),
            "bytes=0-99999999999999999999999999",
            "bytes=99999999999999999999-",
            "bytes=-99999999999999999999",
            "bytes=-0",
            "bytes=5-1",
            "bytes=abc",
            "bytes=0-0,-1",
            "bits=0-10",
            "bytes=" + new string('9', 8000) + "-",
            $"bytes={size}-",
            "bytes=0-0" + string.Concat(Enumerable.Repeat(",0-0", 3000)),
        ];

        foreach (var range in ranges)
        {
            var answer = await GetAsync(Package, $"Range: {range}\r\n");
            NothingLeaked(answer, range[..Math.Min(range.Length, 60)]);
            answer.Status.ShouldBeOneOf([200, 206, 400, 416, 431], range[..Math.Min(range.Length, 60)]);
            answer.Text.Length.ShouldBeLessThan((int)size * 2 + 4096, "one copy of the file at most, not one per range");
        }

        (await GetAsync(Package)).Status.ShouldBe(200);
    }

    private static string Post(string authority, string? authorization, string body, string? contentLength = null) =>
        $"POST /build HTTP/1.1\r\nHost: {authority}\r\n{(authorization is null ? "" : $"Authorization: {authorization}\r\n")}"
        + $"Content-Type: text/plain\r\nContent-Length: {contentLength ?? Encoding.UTF8.GetByteCount(body).ToString(System.Globalization.CultureInfo.InvariantCulture)}\r\nConnection: close\r\n\r\n{body}";

    [Fact]
    public async Task Wrong_build_request_tokens_are_refused_and_a_client_that_keeps_guessing_is_shut_out_for_a_while()
    {
        string?[] wrong = [null, "Bearer", "Bearer ", "bearer " + Token, "Basic " + Token, "Bearer " + Token[..^1], "Bearer " + Token + "x", "Bearer " + new string('a', 4000), "Bearer " + Token + " " + Token, "Bearer " + Token.ToUpperInvariant()];
        foreach (var authorization in wrong)
        {
            (await RawAsync(Post(address.Authority, authorization, "app-misc/screen"))).Status.ShouldBe(401, authorization ?? "no Authorization");
        }

        (await RawAsync(Post(address.Authority, "Bearer \u00e9\u00e9", "app-misc/screen"))).Status.ShouldBe(400, "a header that is not ASCII does not reach the endpoint");
        var shutOut = await RawAsync(Post(address.Authority, "Bearer " + Token, "app-misc/screen"));
        shutOut.Status.ShouldBe(429, "after ten wrong tokens in a minute even the right one waits");
        shutOut.Text.ShouldContain("Retry-After: ");
        (await GetAsync(Package)).Status.ShouldBe(200, "package downloads are not held back");
    }

    [Fact]
    public async Task Oversized_build_request_bodies_are_refused_unread()
    {
        var declared = await RawAsync(Post(address.Authority, "Bearer " + Token, "", contentLength: "100000000"));
        declared.Status.ShouldBeOneOf([400, 413]);

        // Chunked: no length to judge by, so the reading stops at the limit.
        var chunk = new string('a', 8192);
        var chunks = string.Concat(Enumerable.Repeat($"2000\r\n{chunk}\r\n", 20)) + "0\r\n\r\n";
        var chunked = await RawAsync($"POST /build HTTP/1.1\r\nHost: {address.Authority}\r\nAuthorization: Bearer {Token}\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n{chunks}");
        chunked.Status.ShouldBeOneOf([400, 413]);
        (await GetAsync(Package)).Status.ShouldBe(200);
    }

    [Fact]
    public async Task A_client_trickling_its_body_is_cut_off_within_seconds()
    {
        using var client = new TcpClient();
        await client.ConnectAsync(address.Host, address.Port);
        await using var stream = client.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(
            $"POST /build HTTP/1.1\r\nHost: {address.Authority}\r\nAuthorization: Bearer {Token}\r\nContent-Type: text/plain\r\nContent-Length: 4000\r\n\r\n"));
        var clock = Stopwatch.StartNew();
        var closed = false;
        var buffer = new byte[4096];
        var answer = new StringBuilder();
        while (clock.Elapsed < TimeSpan.FromSeconds(30) && !closed)
        {
            try
            {
                await stream.WriteAsync("a"u8.ToArray());
                await Task.Delay(TimeSpan.FromSeconds(1));
                while (stream.DataAvailable)
                {
                    var read = await stream.ReadAsync(buffer);
                    closed |= read == 0;
                    answer.Append(Encoding.ASCII.GetString(buffer, 0, read));
                }

                closed |= answer.Length > 0;
            }
            catch (IOException)
            {
                closed = true;
            }
        }

        closed.ShouldBeTrue("a body sent at one byte a second is not waited for");
        clock.Elapsed.ShouldBeLessThan(TimeSpan.FromSeconds(20));
        if (answer.Length > 0)
        {
            answer.ToString().ShouldStartWith("HTTP/1.1 408");
        }

        (await GetAsync(Package)).Status.ShouldBe(200);
    }
}
