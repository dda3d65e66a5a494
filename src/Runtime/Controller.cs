using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using k8s;
using k8s.Autorest;
using k8s.Models;
using Microsoft.Extensions.Logging;
using Serilog.Context;

namespace Gentoo.Runtime;

/// <summary>Settings of one controller.</summary>
public sealed record ControllerOptions
{
    /// <summary>Reconciles of different keys that may run at once.</summary>
    public int Workers { get; init; } = 4;

    /// <summary>First retry delay after an error; doubles per consecutive failure of the same key.</summary>
    public TimeSpan BaseBackoff { get; init; } = TimeSpan.FromMilliseconds(5);

    public TimeSpan MaxBackoff { get; init; } = TimeSpan.FromMinutes(5);
}

/// <summary>Something that runs while this replica leads: a controller's workers.</summary>
public interface IRunnable
{
    string Name { get; }

    /// <summary>Runs until <paramref name="stop"/> (take no more work); <paramref name="abort"/> also cancels work in flight.</summary>
    Task RunAsync(CancellationToken stop, CancellationToken abort);
}

/// <summary>
/// Feeds a reconciler from a work queue: the primary kind's cache events, the controlling owners of owned kinds,
/// and mapped keys from other watched kinds all become keys; a bounded set of workers reconciles them.
/// </summary>
public sealed class Controller<T> : IRunnable, IDisposable
    where T : class, IKubernetesObject<V1ObjectMeta>
{
    private readonly Func<IReconciler<T>> reconcilerFactory;
    private readonly ControllerOptions options;
    private readonly OperatorMetrics metrics;
    private readonly ILogger log;
    private readonly KindInfo kind = KindInfo.Of<T>();

    // What tells a reconcile's own last status write coming back through the watch from every other change, all kept
    // under echoGate: per key, the resourceVersion its last reconcile ended by writing its status at
    // (ReconcileResult.WroteStatusAt), until that write's watch event comes back or another reconcile of the key starts;
    // the keys being reconciled; and per key being reconciled, the one status-only change that came meanwhile, which is
    // that reconcile's own write if it ends by saying it wrote at that resourceVersion (the watch often delivers the
    // write before the reconcile has returned).
    private readonly Lock echoGate = new();
    private readonly Dictionary<ObjectKey, string> ownStatusWrites = [];
    private readonly HashSet<ObjectKey> reconciling = [];
    private readonly Dictionary<ObjectKey, string> changedWhileReconciling = [];

    /// <param name="interesting">Which cache events of the primary kind need a reconcile; by default a new object, a
    /// deletion, or a change of generation or of labels, annotations, finalizers and deletion (not status writes).</param>
    public Controller(
        Informer<T> primary, Func<IReconciler<T>> reconcilerFactory, ControllerOptions options, OperatorMetrics metrics, TimeProvider clock, ILogger log,
        Func<CacheEvent<T>, bool>? interesting = null)
    {
        this.reconcilerFactory = reconcilerFactory;
        this.options = options;
        this.metrics = metrics;
        this.log = log;
        Queue = new WorkQueue<ObjectKey>(clock, options.BaseBackoff, options.MaxBackoff);
        Cache = primary;
        interesting ??= ChangeFilters.SpecOrMetadataChanged;
        primary.AddHandler(change =>
        {
            if (!IsEcho(change) && interesting(change) && !HeldUntilReconcileEnds(change))
            {
                Enqueue(ObjectKey.Of(change.Object));
            }
        });
    }

    public string Name => kind.Kind;

    public ICache<T> Cache { get; }

    public WorkQueue<ObjectKey> Queue { get; }

    /// <summary>Reconciles the controlling owner (of kind T) of every change to an owned object.</summary>
    public Controller<T> Owns<TOwned>(Informer<TOwned> owned)
        where TOwned : class, IKubernetesObject<V1ObjectMeta>
    {
        owned.AddHandler(change =>
        {
            var owner = change.Object.Metadata.OwnerReferences?.FirstOrDefault(o => o.Controller == true && o.Kind == kind.Kind && o.ApiVersion == kind.ApiVersion);
            if (owner is not null)
            {
                Enqueue(new ObjectKey(change.Object.Metadata.NamespaceProperty ?? "", owner.Name));
            }
        });
        return this;
    }

    /// <summary>
    /// Reconciles the keys <paramref name="map"/> names for every change to another kind, or only for the changes
    /// <paramref name="when"/> accepts.
    /// </summary>
    public Controller<T> Watches<TOther>(Informer<TOther> other, Func<TOther, IEnumerable<ObjectKey>> map, Func<CacheEvent<TOther>, bool>? when = null)
        where TOther : class, IKubernetesObject<V1ObjectMeta>
    {
        other.AddHandler(change =>
        {
            if (when is not null && !when(change))
            {
                return;
            }

            foreach (var key in map(change.Object))
            {
                Enqueue(key);
            }
        });
        return this;
    }

    /// <summary>Queues every object in the cache (after leadership starts, nothing must be missed).</summary>
    public void EnqueueAll()
    {
        foreach (var obj in Cache.List())
        {
            Enqueue(ObjectKey.Of(obj));
        }
    }

    public void Enqueue(ObjectKey key)
    {
        Queue.Add(key);
        metrics.QueueDepth.WithLabels(kind.Kind).Set(Queue.Depth);
    }

    public async Task RunAsync(CancellationToken stop, CancellationToken abort)
    {
        EnqueueAll();
        var workers = Enumerable.Range(0, options.Workers).Select(_ => WorkAsync(stop, abort)).ToList();
        await Task.WhenAll(workers);
    }

    private async Task WorkAsync(CancellationToken stop, CancellationToken ct)
    {
        while (!stop.IsCancellationRequested && !ct.IsCancellationRequested)
        {
            ObjectKey key;
            try
            {
                key = await Queue.TakeAsync(stop);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            metrics.QueueDepth.WithLabels(kind.Kind).Set(Queue.Depth);
            if (key == default)
            {
                return;
            }

            try
            {
                await ReconcileOneAsync(key, ct);
            }
            finally
            {
                Queue.Done(key);
            }
        }
    }

    private async Task ReconcileOneAsync(ObjectKey key, CancellationToken ct)
    {
        var request = new ReconcileRequest(key.Namespace, key.Name, Guid.NewGuid().ToString("N")[..12]);
        using var kindScope = LogContext.PushProperty("Kind", kind.Kind);
        using var objectScope = LogContext.PushProperty("Object", key.ToString());
        using var idScope = LogContext.PushProperty(ReconcileRequest.ReconcileIdProperty, request.ReconcileId);
        var started = Stopwatch.GetTimestamp();
        string result;
        lock (echoGate)
        {
            ownStatusWrites.Remove(key);
            reconciling.Add(key);
        }

        string? wroteStatusAt = null;
        try
        {
            var outcome = await reconcilerFactory().ReconcileAsync(request, ct);
            wroteStatusAt = outcome.WroteStatusAt;
            Queue.Forget(key);
            if (outcome.RequeueAfter is { } delay)
            {
                Queue.AddAfter(key, delay);
                result = "requeue";
            }
            else
            {
                result = "success";
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // Shutdown or lost leadership: the next leader picks the key up from its own cache.
            result = "canceled";
        }
        catch (TerminalException e)
        {
            Queue.Forget(key);
            log.LogWarning("Reconcile of {Kind} {Object} stopped: {Reason}: {Message}", kind, key, e.Reason, e.Message);
            result = "terminal";
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.NotFound && (Cache.Get(key) is null || NotFoundIsOf(e, kind, key)))
        {
            // The object went while it was reconciled (the cache may not have seen it go yet, but the API server's answer
            // names it): nothing is left to do for it, and nothing to retry.
            Queue.Forget(key);
            log.LogDebug("Reconcile of {Kind} {Object} ended: the object is gone ({Message})", kind, key, e.Message);
            result = "gone";
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.Conflict)
        {
            // A write made on a view something else has changed since (optimistic locking did its job): the next
            // reconcile decides on the newer object, which the watch brings. Not a failure worth a stack trace.
            var delay = Queue.AddRateLimited(key);
            log.LogDebug("Reconcile of {Kind} {Object} wrote on a changed object; again in {Delay} on the newer one", kind, key, delay);
            result = "conflict";
        }
        catch (Exception e)
        {
            var delay = Queue.AddRateLimited(key);
            log.LogWarning(e, "Reconcile of {Kind} {Object} failed; retrying in {Delay}", kind, key, delay);
            result = "error";
        }
        finally
        {
            Ended(key, wroteStatusAt);
        }

        metrics.Reconciles.WithLabels(kind.Kind, result).Inc();
        metrics.ReconcileDuration.WithLabels(kind.Kind).Observe(Stopwatch.GetElapsedTime(started).TotalSeconds);
    }

    /// <summary>
    /// Whether a change is the status write a reconcile ended with, coming back through the watch and nothing else: the
    /// state it shows is what that reconcile decided. A reconcile started since (it may have decided on a cache that had
    /// not seen the write yet), a change of spec or metadata, or the echo arriving before the reconcile ended all make it
    /// an ordinary change.
    /// </summary>
    private bool IsEcho(CacheEvent<T> change)
    {
        var key = ObjectKey.Of(change.Object);
        lock (echoGate)
        {
            if (change.Type == CacheEventType.Deleted)
            {
                ownStatusWrites.Remove(key);
                return false;
            }

            return change.Type == CacheEventType.Updated
                && ownStatusWrites.TryGetValue(key, out var version)
                && version == change.Object.Metadata.ResourceVersion
                && !ChangeFilters.SpecOrMetadataChanged(change)
                && ownStatusWrites.Remove(key);
        }
    }

    /// <summary>
    /// Whether a status-only change that came while its object is being reconciled is held until the reconcile ends, as
    /// maybe its own write's echo; a second such change, or any other, is not held (one of two is someone else's).
    /// </summary>
    private bool HeldUntilReconcileEnds(CacheEvent<T> change)
    {
        var key = ObjectKey.Of(change.Object);
        lock (echoGate)
        {
            return change.Type == CacheEventType.Updated
                && reconciling.Contains(key)
                && !ChangeFilters.SpecOrMetadataChanged(change)
                && change.Object.Metadata.ResourceVersion is { } version
                && changedWhileReconciling.TryAdd(key, version);
        }
    }

    /// <summary>The reconcile of <paramref name="key"/> ended, having written its status last at <paramref name="wroteStatusAt"/> (or not).</summary>
    private void Ended(ObjectKey key, string? wroteStatusAt)
    {
        bool again;
        lock (echoGate)
        {
            reconciling.Remove(key);
            again = changedWhileReconciling.Remove(key, out var held) && held != wroteStatusAt;
            if (wroteStatusAt is not null && !again && held is null)
            {
                ownStatusWrites[key] = wroteStatusAt;
            }
        }

        if (again)
        {
            Enqueue(key); // someone else's change came while it ran: it decides again on the newer object
        }
    }

    /// <summary>
    /// Whether a 404 is about the reconciled object itself: the API server's Status names what it did not find
    /// (details.name, details.kind as the resource's plural, details.group). A 404 about anything else is an error.
    /// </summary>
    internal static bool NotFoundIsOf(HttpOperationException e, KindInfo kind, ObjectKey key)
    {
        try
        {
            var details = JsonNode.Parse(e.Response.Content ?? "")?["details"];
            return details is JsonObject
                && details["name"]?.GetValue<string>() == key.Name
                && details["kind"]?.GetValue<string>() == kind.Plural
                && (details["group"]?.GetValue<string>() ?? "") == kind.Group;
        }
        catch (Exception parse) when (parse is JsonException or InvalidOperationException)
        {
            return false;
        }
    }

    public void Dispose() => Queue.Dispose();
}

/// <summary>Which cache events of a controller's own kind need a reconcile.</summary>
public static class ChangeFilters
{
    /// <summary>
    /// The default: a new object, a deletion, or a change of generation or of labels, annotations, finalizers and
    /// deletion. Status-only writes do not bump the generation; reconciling on them would loop on our own writes.
    /// </summary>
    public static bool SpecOrMetadataChanged<T>(CacheEvent<T> change)
        where T : class, IKubernetesObject<V1ObjectMeta> =>
        change.Type != CacheEventType.Updated || change.Old is null
        || change.Old.Metadata.Generation != change.Object.Metadata.Generation
        || !SameMetadata(change.Old.Metadata, change.Object.Metadata);

    private static bool SameMetadata(V1ObjectMeta a, V1ObjectMeta b) =>
        a.DeletionTimestamp == b.DeletionTimestamp
        && Same(a.Annotations, b.Annotations)
        && Same(a.Labels, b.Labels)
        && (a.Finalizers ?? []).SequenceEqual(b.Finalizers ?? []);

    private static bool Same(IDictionary<string, string>? a, IDictionary<string, string>? b) =>
        (a?.Count ?? 0) == (b?.Count ?? 0) && (a is null || a.All(p => b!.TryGetValue(p.Key, out var v) && v == p.Value));
}
