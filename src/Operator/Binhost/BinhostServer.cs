using System.Globalization;
using Gentoo.Portage.Kernels;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Net.Http.Headers;

namespace Gentoo.Operator.Binhost;

/// <summary>How a binhost serves: its PKGDIR, name (the binrepos.conf section), address and port.</summary>
public sealed record BinhostOptions(string PackageDirectory, string Name, string BindAddress = "0.0.0.0", int Port = 8080);

/// <summary>
/// The binhost's HTTP surface: GET and HEAD of every package file (Range, ETag/If-None-Match, Last-Modified, all
/// by ASP.NET Core's file results), the always current Packages index, a ready binrepos.conf, and which packages
/// will not run on a given kernel.
/// </summary>
public static class BinhostServer
{
    public static WebApplication Build(BinhostOptions options, TimeProvider clock)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseKestrelCore().ConfigureKestrel(k => k.Listen(System.Net.IPAddress.Parse(options.BindAddress), options.Port));
        builder.Services.AddRoutingCore();
        var app = builder.Build();
        var content = new BinhostContent(options.PackageDirectory, clock);

        app.MapMethods("/Packages", ["GET", "HEAD"], () =>
        {
            var index = content.Index();
            return Results.Bytes(index.Content, "text/plain; charset=utf-8", lastModified: index.LastModified, entityTag: new EntityTagHeaderValue(index.ETag));
        });
        app.MapMethods("/binrepos.conf", ["GET", "HEAD"], (HttpRequest request) =>
            Results.Text($"[{options.Name}]\npriority = 10\nsync-uri = {request.Scheme}://{request.Host}/\n", "text/plain; charset=utf-8"));
        app.MapGet("/kernel", (string? notRunningOn) =>
        {
            if (!KernelVersion.TryParse(notRunningOn, out var kernel))
            {
                return Results.BadRequest(new { error = $"query parameter notRunningOn '{notRunningOn}': expected a kernel release such as 6.1 or 6.6.30" });
            }

            return Results.Json(new { kernel = kernel.ToString(), packages = content.NotRunningOn(kernel) });
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

    private static string ContentType(string name) =>
        name.EndsWith(".gpkg.tar", StringComparison.Ordinal) || name.EndsWith(".tar", StringComparison.Ordinal) ? "application/x-tar"
        : name.EndsWith(".gz", StringComparison.Ordinal) ? "application/gzip"
        : name.EndsWith(".asc", StringComparison.Ordinal) ? "application/pgp-keys"
        : "application/octet-stream";
}
