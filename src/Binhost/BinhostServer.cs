using Gentoo.Portage.Kernels;
using Gentoo.Portage.Releases;
using Gentoo.Portage.Signing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Net.Http.Headers;
using Microsoft.Win32.SafeHandles;

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
/// by ASP.NET Core's file results), the published release's Packages index (the whole PKGDIR's before the first
/// release), every kept release's index and repository snapshots (git over dumb HTTP), a ready binrepos.conf and
/// repos.conf, the kernel each package needs, and a page at / for people.
/// </summary>
public static class BinhostServer
{
    /// <param name="options">What to serve and where.</param>
    /// <param name="clock">The time indexes and the page carry.</param>
    /// <param name="onDemand">Builds on demand, when on.</param>
    /// <param name="runs">The builder's latest runs for the page, when the binhost talks to the cluster.</param>
    /// <param name="logging">How the binhost logs (the operator's format); unset: ASP.NET Core's console default.</param>
    /// <param name="accessLines">Where the access log's lines go; unset: through the logging, category <see cref="AccessLog.Category"/>.</param>
    public static WebApplication Build(
        BinhostOptions options, TimeProvider clock, OnDemandBuilds? onDemand = null, Func<CancellationToken, Task<IReadOnlyList<PageRun>>>? runs = null,
        Action<ILoggingBuilder>? logging = null, IAccessLineWriter? accessLines = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseKestrelCore().ConfigureKestrel(k =>
        {
            k.Listen(System.Net.IPAddress.Parse(options.BindAddress), options.Port);
            // Only POST /build has a body, and a small one; a client trickling its headers or body holds a connection
            // only briefly (Kestrel answers 408 and closes).
            k.Limits.MaxRequestBodySize = BuildRequestEndpoint.BodyLimit;
            k.Limits.MinRequestBodyDataRate = new MinDataRate(bytesPerSecond: 240, gracePeriod: TimeSpan.FromSeconds(5));
            k.Limits.RequestHeadersTimeout = TimeSpan.FromSeconds(10);
        });

        // A request is answered on the thread that read it, without a hop to the thread pool and back for each step (as
        // nginx's workers do). What waits there is short: a stat, the first read of a file of 64 KB at most, a setup
        // file; a larger package is read on the pool (PackageFileResult), the index is built on the pool (SharedRefresh).
        // With RunSocketCompletionsInline and the access log's rests this took small packages from 0.77x to 0.99-1.18x
        // nginx (bench/binhost).
        builder.WebHost.UseSockets(sockets => sockets.UnsafePreferInlineScheduling = true);
        builder.Services.AddRoutingCore();
        if (logging is not null)
        {
            logging(builder.Logging.ClearProviders());
        }

        // The access log below is the binhost's line per request. ASP.NET Core's own request logging would add a log
        // scope and an Activity to every request (and their six properties to every line) for nothing.
        builder.Logging.AddFilter(HostingDiagnostics, LogLevel.None);

        var app = builder.Build();
        var metrics = new BinhostMetrics();
        var requests = new AccessLog(accessLines, app.Services.GetRequiredService<ILoggerFactory>().CreateLogger(AccessLog.Category), clock);
        app.Use(async (context, next) =>
        {
            var started = clock.GetTimestamp();
            await next(context);
            var (path, code, bytes) = (context.Request.Path.Value ?? "/", context.Response.StatusCode, context.Response.ContentLength ?? 0);
            metrics.Count(path, code, bytes);

            // One line per request, as an access log: what was asked, how it was answered, for whom.
            requests.Record(new ServedRequest(clock.GetUtcNow(), context.Request.Method, path, code, bytes, clock.GetElapsedTime(started), context.Connection.RemoteIpAddress));
        });
        var content = new BinhostContent(options.PackageDirectory, clock, message => app.Logger.LogWarning("{Message}", message));
        app.Lifetime.ApplicationStopped.Register(content.Dispose);
        app.Lifetime.ApplicationStopped.Register(requests.Dispose);
        if (content.Unwatched is { } why)
        {
            app.Logger.LogInformation("The PKGDIR is looked at again for each /Packages request: {Reason}", why);
        }
        var releases = content.Releases;
        var signed = options.PublicKeyPath is not null;
        static string Url(HttpRequest request) => $"{request.Scheme}://{request.Host}/";

        // The target a client is set up for: the published release, or the one ?release= pins (null: no such release).
        ClientTarget? Target(HttpRequest request)
        {
            var pinned = request.Query["release"].ToString() is { Length: > 0 } id ? id : null;
            if (pinned is not null)
            {
                return releases.Store.Get(pinned) is { } release ? new ClientTarget(options.Name, Url(request), pinned, [.. release.Repositories.Select(r => r.Name)]) : null;
            }

            return Following(request);
        }

        // A client that follows the published release.
        ClientTarget Following(HttpRequest request) =>
            new(options.Name, Url(request), null, [.. (releases.Published()?.Commits.Keys ?? []).Order(StringComparer.Ordinal)]);

        IResult NoRelease(HttpRequest request) => BinhostJson.Error(
            $"release {request.Query["release"]} is not kept here; kept releases: {string.Join(", ", releases.Store.List().Select(r => r.Id))}", 404);

        static IResult Index(ServedIndex index) =>
            Results.Bytes(index.Content, "text/plain; charset=utf-8", lastModified: index.LastModified, entityTag: new EntityTagHeaderValue(index.ETag));

        app.MapMethods("/Packages", ["GET", "HEAD"], async () => Index(await content.IndexAsync()));
        app.MapMethods("/binrepos.conf", ["GET", "HEAD"], (HttpRequest request) =>
            Target(request) is { } target ? Results.Text(ClientSetup.BinreposConf(target, signed), "text/plain; charset=utf-8") : NoRelease(request));
        app.MapMethods("/repos.conf", ["GET", "HEAD"], (HttpRequest request) =>
            Target(request) is { } target ? Results.Text(ClientSetup.ReposConf(target), "text/plain; charset=utf-8") : NoRelease(request));
        app.MapMethods("/signing-key.asc", ["GET", "HEAD"], () => PublicKey(options) switch
        {
            { Error: { } error } => error,
            var key => Results.Text(key.Armored!, "application/pgp-keys"),
        });
        app.MapMethods("/client-setup.sh", ["GET", "HEAD"], (HttpRequest request) => (PublicKey(options), Target(request)) switch
        {
            ({ Error: { } error }, _) when signed => error,
            (_, null) => NoRelease(request),
            var (key, target) => Results.Text(ClientSetup.Script(target, key.Armored, key.Fingerprint), "text/x-shellscript; charset=utf-8"),
        });
        var failures = new FailedAuthentications(clock);
        app.MapPost("/build", (Delegate)((HttpContext http) => BuildRequestEndpoint.HandleAsync(http, options, content, onDemand, failures)));
        app.MapGet("/kernel", async (string? notRunningOn) =>
        {
            if (notRunningOn is null)
            {
                return Results.Json(new KernelAnswer(null, await content.KernelRequirementsAsync()), BinhostJson.Default.KernelAnswer);
            }

            if (!KernelVersion.TryParse(notRunningOn, out var kernel))
            {
                return BinhostJson.Error($"query parameter notRunningOn '{notRunningOn}': expected a kernel release such as 6.1 or 6.6.30", 400);
            }

            return Results.Json(new KernelAnswer(kernel.ToString(), await content.KernelRequirementsAsync(kernel)), BinhostJson.Default.KernelAnswer);
        });

        // Releases: the list, one with its changes, what changed between two, each one's index and files.
        app.MapGet("/releases", () => Results.Json(new ReleasesAnswer(releases.Published()?.Release, releases.Store.List().Select(ReleaseEntry.Of)), BinhostJson.Default.ReleasesAnswer));
        app.MapGet("/releases/{id}", (string id) => releases.Store.Get(id) is { } release
            ? Results.Json(new ReleaseAnswer(ReleaseEntry.Of(release), release.Repositories, release.Changes.Select(ServedReleases.Describe)), BinhostJson.Default.ReleaseAnswer)
            : BinhostJson.Error($"release {id} is not kept here", 404));
        app.MapGet("/releases/{from}/diff/{to}", (string from, string to) => (releases.Index(from), releases.Index(to)) switch
        {
            ({ } a, { } b) => Results.Json(new DiffAnswer(from, to, ReleaseContents.Diff(a.Parsed, b.Parsed).Select(ServedReleases.Describe)), BinhostJson.Default.DiffAnswer),
            _ => BinhostJson.Error($"release {(releases.Index(from) is null ? from : to)} is not kept here", 404),
        });
        app.MapMethods("/releases/{id}/Packages", ["GET", "HEAD"], (string id) =>
            releases.Index(id) is { } index ? Index(index) : BinhostJson.Error($"release {id} is not kept here", 404));

        // Repository snapshots over git's dumb HTTP protocol: the published release's, or a pinned one's.
        app.MapMethods("/repos/{repository}.git/{**path}", ["GET", "HEAD"], (string repository, string path) => Git(releases.Git(repository, path, pinned: null)));
        app.MapMethods("/releases/{id}/repos/{repository}.git/{**path}", ["GET", "HEAD"], (string id, string repository, string path) =>
            ReleaseStore.IsId(id) ? Git(releases.Git(repository, path, id)) : Results.NotFound());
        app.MapMethods("/releases/{id}/{**path}", ["GET", "HEAD"], (string id, string path) =>
            releases.Index(id) is { } index && index.Parsed.Packages.Any(p => p["PATH"] == path) ? PackageFile(content, path) : Results.NotFound());

        app.MapGet("/", async (HttpRequest request, CancellationToken ct) =>
        {
            var published = releases.Published();
            var target = Following(request);
            var key = signed ? PublicKey(options).Fingerprint : null;
            IReadOnlyList<PageRun>? latest = null;
            if (runs is not null)
            {
                try
                {
                    latest = await runs(ct);
                }
                catch (Exception e) when (e is HttpRequestException or k8s.Autorest.HttpOperationException or TaskCanceledException)
                {
                    app.Logger.LogWarning("The page shows no runs: the API server did not answer: {Message}", e.Message);
                }
            }

            var model = new PageModel(target, key, published, releases.Store.List(), await content.KernelRequirementsAsync(), latest, clock.GetUtcNow());
            return Results.Content(BinhostPage.Render(model), "text/html; charset=utf-8");
        });
        app.MapGet("/metrics", async (HttpContext http) =>
        {
            http.Response.ContentType = "text/plain; version=0.0.4; charset=utf-8";
            await metrics.Registry.CollectAndExportAsTextAsync(http.Response.Body, http.RequestAborted);
        });
        app.MapMethods("/{**path}", ["GET", "HEAD"], (string? path) => PackageFile(content, path ?? ""));
        return app;
    }

    /// <summary>
    /// Lets every socket of this process complete on the thread that polls it (.NET reads this variable once, when the
    /// first socket is made, and has no other switch for it). Called by the binhost's own process before it listens:
    /// with Kestrel's inline scheduling (in <see cref="Build"/>) a request then never leaves the polling thread.
    /// </summary>
    public static void RunSocketCompletionsInline() => Environment.SetEnvironmentVariable(InlineSocketCompletions, "1");

    /// <summary>The variable .NET's sockets read for inline completions.</summary>
    private const string InlineSocketCompletions = "DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS";

    /// <summary>The log category of ASP.NET Core's request logging, which the access log replaces.</summary>
    public const string HostingDiagnostics = "Microsoft.AspNetCore.Hosting.Diagnostics";

    private static IResult Git(GitAnswer? answer) => answer switch
    {
        { Text: { } text } => Results.Text(text, "text/plain; charset=utf-8"), // plain text: git takes it for the dumb protocol
        { File: { } file } => Results.File(file, "application/octet-stream", enableRangeProcessing: true),
        _ => Results.NotFound(),
    };

    private static IResult PackageFile(BinhostContent content, string path)
    {
        if (content.Resolve(path) is not { } served)
        {
            return Results.NotFound();
        }

        return new PackageFileResult(served, ContentType(served.File.Name));
    }

    /// <summary>
    /// A package file. What Portage asks for, the whole file with no conditions, is written from the bytes kept of a
    /// small one, or read straight into the response's buffers; a Range or a condition goes to ASP.NET Core's file
    /// result, which knows them all.
    /// </summary>
    private sealed class PackageFileResult(ServedFile served, string contentType) : IResult
    {
        private const int Piece = 64 * 1024;

        private readonly FileInfo file = served.File;

        public async Task ExecuteAsync(HttpContext http)
        {
            var request = http.Request;
            var headers = request.Headers;
            if (headers.Range.Count > 0 || headers.IfNoneMatch.Count > 0 || headers.IfModifiedSince.Count > 0 || headers.IfMatch.Count > 0
                || headers.IfUnmodifiedSince.Count > 0 || headers.IfRange.Count > 0)
            {
                var tag = new EntityTagHeaderValue(BinhostContent.EntityTag(file.Length, file.LastWriteTimeUtc));
                await Results.File(file.FullName, contentType, lastModified: file.LastWriteTimeUtc, entityTag: tag, enableRangeProcessing: true).ExecuteAsync(http);
                return;
            }

            if (served.Content is { } kept)
            {
                Describe(http.Response, kept.Bytes.Length, kept.ETag, kept.LastModified);
                if (!HttpMethods.IsHead(request.Method))
                {
                    await http.Response.BodyWriter.WriteAsync(kept.Bytes, http.RequestAborted);
                }

                return;
            }

            SafeFileHandle handle;
            try
            {
                handle = File.OpenHandle(file.FullName, FileMode.Open, FileAccess.Read, FileShare.Read);
            }
            catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
            {
                http.Response.StatusCode = StatusCodes.Status404NotFound; // removed since it was resolved
                return;
            }

            using (handle)
            {
                // The file as opened: it may have been replaced since it was resolved.
                var length = RandomAccess.GetLength(handle);
                var modified = File.GetLastWriteTimeUtc(handle);
                var response = http.Response;
                Describe(response, length, BinhostContent.EntityTag(length, modified), BinhostContent.HeaderDate(modified));
                if (HttpMethods.IsHead(request.Method))
                {
                    return;
                }

                // Headers first, so the body is read straight into the connection's buffers (before them, Kestrel holds
                // the body aside and copies it behind the headers).
                await response.StartAsync(http.RequestAborted);
                var body = response.BodyWriter;
                for (long offset = 0; offset < length;)
                {
                    var memory = body.GetMemory((int)Math.Min(Piece, length - offset));
                    // Awaited: a read from disk waits on the thread pool, never on the thread that polls the sockets.
                    var read = await RandomAccess.ReadAsync(handle, memory[..(int)Math.Min(memory.Length, length - offset)], offset, http.RequestAborted);
                    if (read == 0)
                    {
                        break; // cut short meanwhile: Kestrel ends the connection, the client sees a short body and retries
                    }

                    body.Advance(read);
                    offset += read;
                    var flushed = await body.FlushAsync(http.RequestAborted);
                    if (flushed.IsCanceled || flushed.IsCompleted)
                    {
                        break;
                    }
                }
            }
        }

        // What a whole file's answer says before its bytes, kept or read.
        private void Describe(HttpResponse response, long length, string entityTag, string lastModified)
        {
            response.StatusCode = StatusCodes.Status200OK;
            response.ContentType = contentType;
            response.ContentLength = length;
            response.Headers.ETag = entityTag;
            response.Headers.LastModified = lastModified;
            response.Headers.AcceptRanges = "bytes";
        }
    }

    /// <summary>The public key, read on each request so that a rotated key (an updated ConfigMap) is served at once.</summary>
    private static (string? Armored, string? Fingerprint, IResult? Error) PublicKey(BinhostOptions options)
    {
        if (options.PublicKeyPath is null)
        {
            return (null, null, BinhostJson.Error("this binhost serves unsigned packages (spec.signing.unsigned: true); clients use verify-signature = false", 404));
        }

        try
        {
            var bytes = System.IO.File.ReadAllBytes(options.PublicKeyPath);
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
