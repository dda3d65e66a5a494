using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Gentoo.Binhost;
using Gentoo.Portage.Binhost;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace Gentoo.Operator.Tests.Binhost;

/// <summary>The binhost over real HTTP on 127.0.0.1, serving a copy of the real Portage PKGDIR fixture.</summary>
public sealed class BinhostServerTests : IAsyncLifetime
{
    private readonly DirectoryInfo pkgdir = Directory.CreateTempSubdirectory("binhost-");
    private WebApplication app = null!;
    private HttpClient http = null!;
    private Uri address = null!;

    public async Task InitializeAsync()
    {
        Checkout.CopyDirectory(Checkout.PathOf("tests", "Fixtures", "portage", "pkgdir"), pkgdir);
        app = BinhostServer.Build(new BinhostOptions(pkgdir.FullName, "plasma-desktop", "127.0.0.1", 0), TimeProvider.System);
        await app.StartAsync();
        address = ListeningAddress.Of(app);
        http = new HttpClient { BaseAddress = address };
    }

    public async Task DisposeAsync()
    {
        http.Dispose();
        await app.DisposeAsync();
        pkgdir.Delete(recursive: true);
    }


    [Fact]
    public async Task The_index_is_current_after_every_change_and_unchanged_it_answers_not_modified()
    {
        var first = await http.GetAsync("/Packages");
        first.StatusCode.ShouldBe(HttpStatusCode.OK);
        var index = PackagesIndex.Parse(await first.Content.ReadAsStringAsync());
        index.Packages.Select(p => p["CPV"]).ShouldBe(["app-misc/greeter-1.0", "app-text/wordcount-0.5-r1", "app-text/wordcount-0.5-r1", "dev-libs/libgreet-2.1", "dev-libs/libkver-0.3"]);
        var tag = first.Headers.ETag!;

        using var again = new HttpRequestMessage(HttpMethod.Get, "/Packages");
        again.Headers.IfNoneMatch.Add(tag);
        (await http.SendAsync(again)).StatusCode.ShouldBe(HttpStatusCode.NotModified);

        File.Delete(Path.Combine(pkgdir.FullName, "app-text", "wordcount", "wordcount-0.5-r1-1.gpkg.tar"));
        var changed = await http.GetAsync("/Packages");
        changed.Headers.ETag.ShouldNotBe(tag);
        PackagesIndex.Parse(await changed.Content.ReadAsStringAsync()).Packages.Count.ShouldBe(4);
        (await http.GetAsync("/Packages.gz")).StatusCode.ShouldBe(HttpStatusCode.NotFound, "a stale compressed index on disk is never served");
    }

    [Fact]
    public async Task Package_files_support_range_conditional_requests_and_head()
    {
        const string Path = "/dev-libs/libkver/libkver-0.3-1.gpkg.tar";
        var whole = await http.GetAsync(Path);
        whole.StatusCode.ShouldBe(HttpStatusCode.OK);
        var bytes = await whole.Content.ReadAsByteArrayAsync();
        whole.Content.Headers.LastModified.ShouldNotBeNull();

        using var range = new HttpRequestMessage(HttpMethod.Get, Path);
        range.Headers.Range = new System.Net.Http.Headers.RangeHeaderValue(100, 109);
        var partial = await http.SendAsync(range);
        partial.StatusCode.ShouldBe(HttpStatusCode.PartialContent);
        (await partial.Content.ReadAsByteArrayAsync()).ShouldBe(bytes[100..110]);
        partial.Content.Headers.ContentRange!.Length.ShouldBe(bytes.Length);

        using var conditional = new HttpRequestMessage(HttpMethod.Get, Path);
        conditional.Headers.IfNoneMatch.Add(whole.Headers.ETag!);
        (await http.SendAsync(conditional)).StatusCode.ShouldBe(HttpStatusCode.NotModified);

        var head = await http.SendAsync(new HttpRequestMessage(HttpMethod.Head, Path));
        head.StatusCode.ShouldBe(HttpStatusCode.OK);
        head.Content.Headers.ContentLength.ShouldBe(bytes.Length);
        (await head.Content.ReadAsByteArrayAsync()).ShouldBeEmpty();
        head.Headers.ETag.ShouldBe(whole.Headers.ETag);
        whole.Headers.AcceptRanges.ShouldContain("bytes");
        bytes.ShouldBe(await File.ReadAllBytesAsync(System.IO.Path.Combine(pkgdir.FullName, "dev-libs", "libkver", "libkver-0.3-1.gpkg.tar")));

        // Rebuilt to the same size (GPKGs are padded to whole tar blocks): the new bytes, under a new tag, at once.
        var file = System.IO.Path.Combine(pkgdir.FullName, "dev-libs", "libkver", "libkver-0.3-1.gpkg.tar");
        var rebuilt = bytes.Select(b => (byte)~b).ToArray();
        await File.WriteAllBytesAsync(file, rebuilt);
        File.SetLastWriteTimeUtc(file, DateTime.UtcNow.AddMinutes(1));
        var after = await http.GetAsync(Path);
        (await after.Content.ReadAsByteArrayAsync()).ShouldBe(rebuilt);
        after.Headers.ETag.ShouldNotBe(whole.Headers.ETag);

        // Written over once more, same size and time: a small package is kept whole, and only the PKGDIR's watch tells.
        var time = File.GetLastWriteTimeUtc(file);
        var rewritten = rebuilt.Select(b => (byte)(b ^ 0x55)).ToArray();
        await File.WriteAllBytesAsync(file, rewritten);
        File.SetLastWriteTimeUtc(file, time);
        (await (await http.GetAsync(Path)).Content.ReadAsByteArrayAsync()).ShouldBe(rewritten);
    }

    [Fact]
    public async Task A_package_too_large_to_keep_whole_is_read_from_disk_with_the_same_headers()
    {
        var directory = Directory.CreateDirectory(Path.Combine(pkgdir.FullName, "media-fonts", "noto"));
        var file = Path.Combine(directory.FullName, "noto-1-1.gpkg.tar");
        var bytes = new byte[300 * 1024];
        new Random(7).NextBytes(bytes);
        await File.WriteAllBytesAsync(file, bytes);

        var whole = await http.GetAsync("/media-fonts/noto/noto-1-1.gpkg.tar");
        whole.StatusCode.ShouldBe(HttpStatusCode.OK);
        (await whole.Content.ReadAsByteArrayAsync()).ShouldBe(bytes);
        whole.Headers.ETag!.Tag.ShouldBe(BinhostContent.EntityTag(bytes.Length, File.GetLastWriteTimeUtc(file)));
        whole.Content.Headers.LastModified.ShouldBe(new DateTimeOffset(File.GetLastWriteTimeUtc(file).AddTicks(-(File.GetLastWriteTimeUtc(file).Ticks % TimeSpan.TicksPerSecond)), TimeSpan.Zero));
        var small = await http.GetAsync("/dev-libs/libkver/libkver-0.3-1.gpkg.tar");
        small.Headers.ETag!.Tag.ShouldBe(BinhostContent.EntityTag(10240, File.GetLastWriteTimeUtc(Path.Combine(pkgdir.FullName, "dev-libs", "libkver", "libkver-0.3-1.gpkg.tar"))));
        small.Content.Headers.ContentType!.MediaType.ShouldBe(whole.Content.Headers.ContentType!.MediaType);
    }

    [Theory]
    [InlineData("/../../../../etc/passwd")]
    [InlineData("/%2e%2e/%2e%2e/%2e%2e/etc/passwd")]
    [InlineData("/app-misc/..%2f..%2f..%2fetc%2fpasswd")]
    [InlineData("/app-misc/%2e%2e/%2e%2e/%2e%2e/etc/passwd")]
    [InlineData("/outside/hostname")]
    [InlineData("/escape")]
    [InlineData("/.hidden")]
    [InlineData("/app-misc")]
    public async Task Nothing_outside_the_pkgdir_is_ever_served(string path)
    {
        Directory.CreateSymbolicLink(System.IO.Path.Combine(pkgdir.FullName, "outside"), "/etc");
        File.CreateSymbolicLink(System.IO.Path.Combine(pkgdir.FullName, "escape"), "/etc/passwd");
        File.WriteAllText(System.IO.Path.Combine(pkgdir.FullName, ".hidden"), "secret");

        var status = await RawStatusAsync(path);

        status.ShouldBeOneOf(400, 404);
        (await RawStatusAsync("/dev-libs/libkver/libkver-0.3-1.gpkg.tar")).ShouldBe(200, "the same request for a package inside is served");
    }

    [Fact]
    public async Task Clients_get_a_ready_binrepos_conf_and_which_packages_need_a_newer_kernel()
    {
        var conf = await http.GetStringAsync("/binrepos.conf");
        conf.ShouldBe($"[plasma-desktop]\npriority = 10\nsync-uri = http://{address.Authority}/\nverify-signature = false\n", "this binhost was started without a signing key");
        (await http.GetAsync("/signing-key.asc")).StatusCode.ShouldBe(HttpStatusCode.NotFound);
        var setup = await http.GetStringAsync("/client-setup.sh");
        setup.ShouldNotContain("gpg");
        setup.ShouldContain("verify-signature = false");

        using var old = JsonDocument.Parse(await http.GetStringAsync("/kernel?notRunningOn=3.10"));
        old.RootElement.GetProperty("packages").EnumerateArray().Select(p => (p.GetProperty("cpv").GetString(), p.GetProperty("requires").GetString(), p.GetProperty("file").GetString()))
            .ShouldBe([("dev-libs/libkver-0.3", "3.17.0", "/tmp/portage-exp2/prefixes/a-world/eprefix/usr/lib/libkver.so.0")], "the file as installed (this fixture was built in a prefix)");
        using var older = JsonDocument.Parse(await http.GetStringAsync("/kernel?notRunningOn=3.1"));
        older.RootElement.GetProperty("packages").GetArrayLength().ShouldBe(4, "every package with a Linux ABI tag above 3.1 (libgreet has none)");
        (await http.GetAsync("/kernel?notRunningOn=latest")).StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        using var all = JsonDocument.Parse(await http.GetStringAsync("/kernel"));
        all.RootElement.GetProperty("packages").EnumerateArray()
            .Select(p => (p.GetProperty("cpv").GetString(), p.GetProperty("path").GetString(), p.GetProperty("requires").GetString()))
            .ShouldBe(
            [
                ("app-misc/greeter-1.0", "app-misc/greeter/greeter-1.0-1.gpkg.tar", "3.2.0"),
                ("app-text/wordcount-0.5-r1", "app-text/wordcount/wordcount-0.5-r1-1.gpkg.tar", "3.2.0"),
                ("app-text/wordcount-0.5-r1", "app-text/wordcount/wordcount-0.5-r1-2.gpkg.tar", "3.2.0"),
                ("dev-libs/libgreet-2.1", "dev-libs/libgreet/libgreet-2.1-1.gpkg.tar", null),
                ("dev-libs/libkver-0.3", "dev-libs/libkver/libkver-0.3-1.gpkg.tar", "3.17.0"),
            ], "every package with the kernel its binaries need, none for one without a Linux ABI tag");
    }

    [Fact]
    public async Task A_signing_binhost_serves_its_public_key_and_a_client_setup_that_trusts_exactly_that_key()
    {
        var publicKey = Checkout.PathOf("tests", "Fixtures", "signing", "ed25519-public.asc");
        await using var signed = BinhostServer.Build(new BinhostOptions(pkgdir.FullName, "plasma-desktop", "127.0.0.1", 0, publicKey), TimeProvider.System);
        await signed.StartAsync();
        using var client = new HttpClient { BaseAddress = ListeningAddress.Of(signed) };

        var key = await client.GetAsync("/signing-key.asc");
        key.Content.Headers.ContentType!.MediaType.ShouldBe("application/pgp-keys");
        (await key.Content.ReadAsStringAsync()).ShouldBe(await File.ReadAllTextAsync(publicKey));
        (await client.GetStringAsync("/binrepos.conf")).ShouldEndWith("verify-signature = true\n");
        var setup = await client.GetStringAsync("/client-setup.sh");
        var fingerprint = (await File.ReadAllTextAsync(Checkout.PathOf("tests", "Fixtures", "signing", "ed25519.fingerprint"))).Trim();
        setup.ShouldContain("--quick-lsign-key " + fingerprint);
        setup.ShouldContain("-----BEGIN PGP PUBLIC KEY BLOCK-----");
        setup.ShouldContain("[ -f \"$gnupg/pass\" ] || getuto");
    }

    /// <summary>The status code for a request line sent as written: HttpClient would normalize the dots away.</summary>
    private async Task<int> RawStatusAsync(string path)
    {
        using var client = new TcpClient();
        await client.ConnectAsync(address.Host, address.Port);
        await using var stream = client.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes($"GET {path} HTTP/1.1\r\nHost: {address.Authority}\r\nConnection: close\r\n\r\n"));
        using var reader = new StreamReader(stream, Encoding.ASCII);
        var statusLine = await reader.ReadLineAsync() ?? "";
        return int.Parse(statusLine.Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture);
    }
}
