using System.Collections.Concurrent;
using System.Text.RegularExpressions;
using Gentoo.Runtime;
using Serilog.Context;
using Serilog.Core;
using Serilog.Events;

namespace Gentoo.Operator.Tests.Integration;

/// <summary>
/// Counts the status writes (PUT or PATCH of a /status subresource) an operator's client makes, by the reconcile that
/// sent them: the controller runtime carries each reconcile's id in the log context, which flows into the HTTP call.
/// </summary>
public sealed partial class StatusWriteCounter : DelegatingHandler
{
    private readonly ConcurrentDictionary<(string Reconcile, string Resource, string Object), int> writes = new();

    /// <summary>Status writes per reconcile and object, for one plural resource ("buildruns").</summary>
    public IReadOnlyDictionary<(string Reconcile, string Object), int> Of(string resource) =>
        writes.Where(w => w.Key.Resource == resource).ToDictionary(w => (w.Key.Reconcile, w.Key.Object), w => w.Value);

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var reconcile = CurrentReconcile();
        var response = await base.SendAsync(request, cancellationToken);
        // A write refused with 409 Conflict and retried on a fresh read is one write, not two.
        if (response.IsSuccessStatusCode && (request.Method == HttpMethod.Put || request.Method == HttpMethod.Patch)
            && StatusPath().Match(request.RequestUri!.AbsolutePath) is { Success: true } match)
        {
            writes.AddOrUpdate((reconcile ?? "(outside a reconcile)", match.Groups["resource"].Value, match.Groups["name"].Value), 1, (_, count) => count + 1);
        }

        return response;
    }

    private static string? CurrentReconcile()
    {
        var probe = new LogEvent(DateTimeOffset.UtcNow, LogEventLevel.Information, null, MessageTemplate.Empty, []);
        LogContext.Clone().Enrich(probe, new Properties());
        return probe.Properties.TryGetValue(ReconcileRequest.ReconcileIdProperty, out var id) && id is ScalarValue { Value: string text } ? text : null;
    }

    [GeneratedRegex("/namespaces/[^/]+/(?<resource>[^/]+)/(?<name>[^/]+)/status$")]
    private static partial Regex StatusPath();

    private sealed class Properties : ILogEventPropertyFactory
    {
        public LogEventProperty CreateProperty(string name, object? value, bool destructureObjects = false) => new(name, new ScalarValue(value));
    }
}
