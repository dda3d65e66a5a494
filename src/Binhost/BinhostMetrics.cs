using System.Collections.Concurrent;
using System.Globalization;
using Prometheus;

namespace Gentoo.Binhost;

/// <summary>
/// The binhost's metrics at /metrics: requests and bytes by kind of path (index, package, release index, repository,
/// page, setup, kernel, build, other) and status code, and build requests by answer.
/// </summary>
public sealed class BinhostMetrics
{
    public BinhostMetrics()
    {
        var factory = Metrics.WithCustomRegistry(Registry);
        Requests = factory.CreateCounter("gentoo_binhost_requests_total", "Requests by kind of path and status code", "kind", "code");
        Bytes = factory.CreateCounter("gentoo_binhost_response_bytes_total", "Bytes of responses that declared their length, by kind of path", "kind");
        BuildRequests = factory.CreateCounter("gentoo_binhost_build_requests_total", "Build requests (POST /build) by answer: created, answered, rate-limited, unauthorized, invalid, off, unavailable", "answer");
    }

    public CollectorRegistry Registry { get; } = Metrics.NewCustomRegistry();

    // The children of each kind and status code seen, so that counting a request looks one up by value instead of
    // formatting the code and matching label strings (a few dozen at most: kinds are constants, codes are HTTP's).
    private readonly ConcurrentDictionary<(string Kind, int Code), (Counter.Child Requests, Counter.Child Bytes)> children = new();

    private Counter Requests { get; }

    private Counter Bytes { get; }

    private Counter BuildRequests { get; }

    /// <summary>Counts an answered request: its kind of path, status code and declared length.</summary>
    public void Count(string path, int code, long bytes)
    {
        var kind = KindOf(path);
        var (requests, sent) = children.GetOrAdd((kind, code), key =>
            (Requests.WithLabels(key.Kind, key.Code.ToString(CultureInfo.InvariantCulture)), Bytes.WithLabels(key.Kind)));
        requests.Inc();
        sent.Inc(bytes);
        if (kind == "build")
        {
            BuildRequests.WithLabels(AnswerOf(code)).Inc();
        }
    }

    /// <summary>What a request path asks for, as the metrics count it.</summary>
    public static string KindOf(string path) => path switch
    {
        "/Packages" => "index",
        "/" => "page",
        "/binrepos.conf" or "/repos.conf" or "/client-setup.sh" or "/signing-key.asc" => "setup",
        "/kernel" => "kernel",
        "/build" => "build",
        "/metrics" => "metrics",
        _ when path.StartsWith("/repos/", StringComparison.Ordinal) || path.Contains("/repos/", StringComparison.Ordinal) && path.StartsWith("/releases/", StringComparison.Ordinal) => "repository",
        _ when path.StartsWith("/releases", StringComparison.Ordinal) && path.EndsWith("/Packages", StringComparison.Ordinal) => "release-index",
        _ when path.StartsWith("/releases", StringComparison.Ordinal) && !path.EndsWith(".gpkg.tar", StringComparison.Ordinal) => "releases",
        _ when path.EndsWith(".gpkg.tar", StringComparison.Ordinal) || path.EndsWith(".xpak", StringComparison.Ordinal) || path.EndsWith(".tbz2", StringComparison.Ordinal) => "package",
        _ => "other",
    };

    /// <summary>A build request's answer, from its status code.</summary>
    public static string AnswerOf(int code) => code switch
    {
        202 => "created",
        200 => "answered",
        429 => "rate-limited",
        401 => "unauthorized",
        400 => "invalid",
        404 => "off",
        _ => "unavailable",
    };
}
