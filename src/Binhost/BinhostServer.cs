using System.Globalization;
using Gentoo.Portage.Kernels;
using Gentoo.Portage.Signing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Net.Http.Headers;

namespace Gentoo.Binhost;

/// <summary>
/// How a binhost serves: its PKGDIR, name (the binrepos.conf section), address and port, and the public key its
/// packages are signed with (none: they are not signed).
/// </summary>
public sealed record BinhostOptions(string PackageDirectory, string Name, string BindAddress = "0.0.0.0", int Port = 8080, string? PublicKeyPath = null)
{
    /// <summary>The file holding the bearer token build requests must carry; none turns builds on demand off.</summary>
    public string? OnDemandTokenFile { get; init; }
}

/// <summary>
/// The binhost's HTTP surface: GET and HEAD of every package file (Range, ETag/If-None-Match, Last-Modified, all
/// by ASP.NET Core's file results), the always current Packages index, a ready binrepos.conf, and the kernel each
/// package needs (all of them, or those that will not run on a given kernel).
/// </summary>
public static class BinhostServer
{
    public static WebApplication Build(BinhostOptions options, TimeProvider clock, OnDemandBuilds? onDemand = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseKestrelCore().ConfigureKestrel(k => k.Listen(System.Net.IPAddress.Parse(options.BindAddress), options.Port));
        builder.Services.AddRoutingCore();
        var app = builder.Build();
        var content = new BinhostContent(options.PackageDirectory, clock, message => app.Logger.LogWarning("{Message}", message));

        app.MapMethods("/Packages", ["GET", "HEAD"], async () =>
        {
            var index = await content.IndexAsync();
            return Results.Bytes(index.Content, "text/plain; charset=utf-8", lastModified: index.LastModified, entityTag: new EntityTagHeaderValue(index.ETag));
        });
        var signed = options.PublicKeyPath is not null;
        static string Url(HttpRequest request) => $"{request.Scheme}://{request.Host}/";
        app.MapMethods("/binrepos.conf", ["GET", "HEAD"], (HttpRequest request) =>
            Results.Text(ClientSetup.BinreposConf(options.Name, Url(request), signed), "text/plain; charset=utf-8"));
        app.MapMethods("/signing-key.asc", ["GET", "HEAD"], () => PublicKey(options) switch
        {
            { Error: { } error } => error,
            var key => Results.Text(key.Armored!, "application/pgp-keys"),
        });
        app.MapMethods("/client-setup.sh", ["GET", "HEAD"], (HttpRequest request) => PublicKey(options) switch
        {
            { Error: { } error } when signed => error,
            var key => Results.Text(ClientSetup.Script(options.Name, Url(request), key.Armored, key.Fingerprint), "text/x-shellscript; charset=utf-8"),
        });
        app.MapPost("/build", (Delegate)((HttpContext http) => BuildRequestEndpoint.HandleAsync(http, options, content, onDemand)));
        app.MapGet("/kernel", async (string? notRunningOn) =>
        {
            if (notRunningOn is null)
            {
                return Results.Json(new { packages = await content.KernelRequirementsAsync() });
            }

            if (!KernelVersion.TryParse(notRunningOn, out var kernel))
            {
                return Results.BadRequest(new { error = $"query parameter notRunningOn '{notRunningOn}': expected a kernel release such as 6.1 or 6.6.30" });
            }

            return Results.Json(new { kernel = kernel.ToString(), packages = await content.KernelRequirementsAsync(kernel) });
        });
        app.MapMethods("/{**path}", ["GET", "HEAD"], (string? path) =>
        {
            if (content.Resolve(path ?? "") is not { } file)
            {
                return Results.NotFound();
            }

            var tag = new EntityTagHeaderValue("\"" + file.Length.ToString("x", CultureInfo.InvariantCulture) + "-" + file.LastWriteTimeUtc.Ticks.ToString("x", CultureInfo.InvariantCulture) + "\"");
            return Results.File(file.FullName, ContentType(file.Name), lastModified: file.LastWriteTimeUtc, entityTag: tag, enableRangeProcessing: true);
        });
        return app;
    }

    /// <summary>The public key, read on each request so that a rotated key (an updated ConfigMap) is served at once.</summary>
    private static (string? Armored, string? Fingerprint, IResult? Error) PublicKey(BinhostOptions options)
    {
        if (options.PublicKeyPath is null)
        {
            return (null, null, Results.NotFound(new { error = "this binhost serves unsigned packages (spec.signing.unsigned: true); clients use verify-signature = false" }));
        }

        try
        {
            var bytes = File.ReadAllBytes(options.PublicKeyPath);
            return (System.Text.Encoding.ASCII.GetString(bytes), SigningKey.PublicFingerprint(bytes), null);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or SigningKeyException)
        {
            return (null, null, Results.Problem($"the signing key {options.PublicKeyPath} cannot be read: {e.Message}", statusCode: 503));
        }
    }

    private static string ContentType(string name) =>
        name.EndsWith(".gpkg.tar", StringComparison.Ordinal) || name.EndsWith(".tar", StringComparison.Ordinal) ? "application/x-tar"
        : name.EndsWith(".gz", StringComparison.Ordinal) ? "application/gzip"
        : name.EndsWith(".asc", StringComparison.Ordinal) ? "application/pgp-keys"
        : "application/octet-stream";
}
