using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Gentoo.Portage.Binhost;
using Microsoft.AspNetCore.Http;

namespace Gentoo.Binhost;

/// <summary>The binhost's POST /build: who may ask, what they may ask for, and what the answer says.</summary>
public static class BuildRequestEndpoint
{
    /// <summary>The largest request body: a few hundred atoms.</summary>
    public const int BodyLimit = 64 * 1024;

    /// <summary>
    /// POST /build: the packages a client wants. Those already in the index are available; the rest become a
    /// BuildRun (or join the open one that builds them), within the builder's hourly allowance.
    /// </summary>
    public static async Task<IResult> HandleAsync(HttpContext http, BinhostOptions options, BinhostContent content, OnDemandBuilds? onDemand, FailedAuthentications failures)
    {
        if (onDemand is null || options.OnDemandTokenFile is null)
        {
            return BinhostJson.Error("builds on demand are off for this binhost (spec.binhost.onDemand.enabled)", 404);
        }

        string token;
        try
        {
            token = (await File.ReadAllTextAsync(options.OnDemandTokenFile, http.RequestAborted)).Trim();
        }
        catch (IOException e)
        {
            return Results.Problem($"the build-request token {options.OnDemandTokenFile} cannot be read ({e.Message}): does the Secret named by spec.binhost.onDemand.tokenSecretRef exist, with that key?", statusCode: 503);
        }

        var client = http.Connection.RemoteIpAddress?.ToString() ?? "unknown";
        if (failures.RefusedFor(client) is { } refused)
        {
            http.Response.Headers.RetryAfter = ((int)Math.Ceiling(refused.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
            return BinhostJson.Error($"too many wrong build-request tokens from {client}; try again in {(int)Math.Ceiling(refused.TotalSeconds)} s", 429);
        }

        var sent = http.Request.Headers.Authorization.ToString();
        if (token.Length == 0 || !sent.StartsWith("Bearer ", StringComparison.Ordinal) || !SameToken(sent["Bearer ".Length..].Trim(), token))
        {
            failures.Failed(client);
            http.Response.Headers.WWWAuthenticate = "Bearer realm=\"gentoo-builder\"";
            return BinhostJson.Error("send the builder's build-request token as Authorization: Bearer TOKEN", 401);
        }

        var (packages, bodyError) = await RequestedPackagesAsync(http.Request);
        var (atoms, error) = bodyError is null ? OnDemandRequests.Parse(packages!) : (null, bodyError);
        if (atoms is null)
        {
            return BinhostJson.Error(error!, 400);
        }

        var index = (await content.IndexAsync()).Parsed;
        var missing = OnDemandRequests.NotBuilt(atoms, index);
        var available = atoms.Select(a => a.ToString()).Where(a => !missing.Contains(a)).Distinct(StringComparer.Ordinal).ToList();
        if (missing.Count == 0)
        {
            return Results.Json(new BuildAnswer(null, false, missing, available), BinhostJson.Default.BuildAnswer);
        }

        var answer = await onDemand.RequestAsync(missing, client, http.RequestAborted);
        if (answer.RetryAfter is { } wait)
        {
            var seconds = (int)Math.Ceiling(wait.TotalSeconds);
            http.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
            return BinhostJson.Error($"this builder's allowance of BuildRuns on demand for the past hour is spent; try again in {seconds} s (spec.binhost.onDemand.maxRunsPerHour)", 429);
        }

        return Results.Json(new BuildAnswer(answer.BuildRun, answer.Created, missing, available), BinhostJson.Default.BuildAnswer, statusCode: answer.Created ? 202 : 200);
    }

    /// <summary>
    /// Compares digests of equal length, so how long the comparison takes says nothing about the token, its length
    /// included (comparing the tokens themselves stops early when their lengths differ).
    /// </summary>
    private static bool SameToken(string sent, string token) =>
        CryptographicOperations.FixedTimeEquals(SHA256.HashData(Encoding.UTF8.GetBytes(sent)), SHA256.HashData(Encoding.UTF8.GetBytes(token)));

    /// <summary>The packages of a request: JSON {"packages": [...]}, or atoms separated by white space.</summary>
    private static async Task<(IReadOnlyList<string>? Packages, string? Error)> RequestedPackagesAsync(HttpRequest request)
    {
        const int Limit = BodyLimit;
        if (request.ContentLength > Limit)
        {
            return (null, $"the request body is larger than {Limit} bytes");
        }

        // Read no more than the limit, whatever the client claims (a chunked body has no length).
        using var reader = new StreamReader(request.Body, Encoding.UTF8);
        var buffer = new char[Limit + 1];
        var read = 0;
        for (int n; read < buffer.Length && (n = await reader.ReadAsync(buffer.AsMemory(read), request.HttpContext.RequestAborted)) > 0;)
        {
            read += n;
        }

        if (read > Limit)
        {
            return (null, $"the request body is larger than {Limit} bytes");
        }

        var body = new string(buffer, 0, read);

        if (request.ContentType?.StartsWith("application/json", StringComparison.OrdinalIgnoreCase) != true)
        {
            return (body.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries), null);
        }

        try
        {
            using var json = JsonDocument.Parse(body);
            return json.RootElement.ValueKind == JsonValueKind.Object && json.RootElement.TryGetProperty("packages", out var list) && list.ValueKind == JsonValueKind.Array
                && list.EnumerateArray().All(p => p.ValueKind == JsonValueKind.String)
                ? (list.EnumerateArray().Select(p => p.GetString()!).ToList(), null)
                : (null, "JSON body: expected {\"packages\": [\"category/package\", ...]}");
        }
        catch (JsonException e)
        {
            return (null, $"JSON body: {e.Message}");
        }
    }
}
