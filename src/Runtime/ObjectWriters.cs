using System.Net;
using System.Text.Json.Nodes;
using k8s;
using k8s.Autorest;
using k8s.Models;
using Microsoft.Extensions.Logging;

namespace Gentoo.Runtime;

/// <summary>Status writes with conflict retry, for any kind with a status subresource.</summary>
public sealed class StatusWriter<T, TSpec, TStatus>(ResourceApi<T> api)
    where T : class, IKubernetesObject<V1ObjectMeta>, ISpec<TSpec>, IStatus<TStatus>, new()
    where TStatus : class
{
    private const int MaxAttempts = 8;

    /// <summary>The status changes of one reconcile of <paramref name="observed"/>, written with <see cref="WriteAsync"/>.</summary>
    public StatusChanges<T> Changes(T observed) => new(observed, obj => WithStatus(obj, CopyOf(obj.Status)));

    /// <summary>
    /// Applies <paramref name="mutate"/>, which changes status only, to a copy's status and writes it when it changed. On
    /// 409 Conflict the object is read fresh and the mutation applied again, so the write wins without losing others'
    /// changes. Returns the stored object.
    /// </summary>
    public async Task<T> UpdateAsync(T current, Action<T> mutate, CancellationToken ct)
    {
        // Objects come from the informers' caches, which others read too: the mutation gets a status of its own. The
        // rest is shared, not copied: a status write changes nothing else, and with whole copies (JSON there and back) this
        // writer was a seventh of the operator's CPU samples with a thousand runs queued.
        var before = KubernetesJson.Serialize(current.Status);
        current = WithStatus(current, KubernetesJson.Deserialize<TStatus>(before));
        for (var attempt = 1; ; attempt++)
        {
            mutate(current);
            if (KubernetesJson.Serialize(current.Status) == before)
            {
                return current;
            }

            try
            {
                return await api.ReplaceStatusAsync(current, ct);
            }
            catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.Conflict && attempt < MaxAttempts)
            {
                current = await api.GetAsync(current.Metadata.NamespaceProperty, current.Metadata.Name, ct)
                    ?? throw new InvalidOperationException($"{api.Kind} {ObjectKey.Of(current)} was deleted during a status update");
                before = KubernetesJson.Serialize(current.Status);
            }
        }
    }

    /// <summary>
    /// Writes the changes a reconcile collected, in one write when there are any, together with <paramref name="also"/>
    /// (a compare-and-swap that must be stored before the reconcile goes on); returns the stored object.
    /// </summary>
    public async Task<T> WriteAsync(StatusChanges<T> changes, CancellationToken ct, Action<T>? also = null)
    {
        if (changes.IsEmpty && also is null)
        {
            return changes.Observed;
        }

        var stored = await UpdateAsync(changes.Observed, obj =>
        {
            changes.ApplyTo(obj);
            also?.Invoke(obj);
        }, ct);
        changes.Written(stored);
        return stored;
    }

    private static TStatus CopyOf(TStatus status) => KubernetesJson.Deserialize<TStatus>(KubernetesJson.Serialize(status));

    private static T WithStatus(T obj, TStatus status) => new()
    {
        ApiVersion = obj.ApiVersion,
        Kind = obj.Kind,
        Metadata = obj.Metadata,
        Spec = obj.Spec,
        Status = status,
    };
}

/// <summary>
/// The status changes one reconcile decides, written together once at its end (Flux's deferred summarize-and-patch):
/// the reconcile's steps add changes instead of writing, so it costs one status write at most, still only when something
/// changed and conflict-retried on a fresh read (each change is applied again to it, in order). Changes touch status only.
/// </summary>
public sealed class StatusChanges<T>(T observed, Func<T, T> statusCopy)
    where T : class
{
    private readonly List<Action<T>> changes = [];

    /// <summary>The object the changes are written onto: as the reconcile read it, or as its last write stored it.</summary>
    public T Observed { get; private set; } = observed;

    public bool IsEmpty => changes.Count == 0;

    public void Add(Action<T> change) => changes.Add(change);

    public void ApplyTo(T obj)
    {
        foreach (var change in changes)
        {
            change(obj);
        }
    }

    /// <summary>The object as it will be once the changes so far are written: what later steps decide on.</summary>
    public T Preview()
    {
        var copy = statusCopy(Observed);
        ApplyTo(copy);
        return copy;
    }

    /// <summary>A fresher read of the object, taken before any change was decided on the older one.</summary>
    public void Refresh(T fresher)
    {
        if (!IsEmpty)
        {
            throw new InvalidOperationException("changes were decided on the older read");
        }

        Observed = fresher;
    }

    /// <summary>The changes are stored: later ones are written onto what the API server returned.</summary>
    public void Written(T stored)
    {
        Observed = stored;
        changes.Clear();
    }
}

/// <summary>Finalizer helpers: merge patches carrying the resourceVersion, so a stale view fails instead of clobbering.</summary>
public static class Finalizers
{
    public static bool Has(IKubernetesObject<V1ObjectMeta> obj, string finalizer) => obj.Metadata.Finalizers?.Contains(finalizer) == true;

    /// <summary>Adds the finalizer; returns the updated object, or the same one when it was already there.</summary>
    public static async Task<T> AddAsync<T>(ResourceApi<T> api, T obj, string finalizer, CancellationToken ct)
        where T : class, IKubernetesObject<V1ObjectMeta>
    {
        if (Has(obj, finalizer))
        {
            return obj;
        }

        var finalizers = (obj.Metadata.Finalizers ?? []).Append(finalizer).ToList();
        return await api.PatchAsync(obj.Metadata.NamespaceProperty, obj.Metadata.Name, Patch(obj, finalizers), ct);
    }

    public static async Task<T> RemoveAsync<T>(ResourceApi<T> api, T obj, string finalizer, CancellationToken ct)
        where T : class, IKubernetesObject<V1ObjectMeta>
    {
        if (!Has(obj, finalizer))
        {
            return obj;
        }

        var finalizers = obj.Metadata.Finalizers!.Where(f => f != finalizer).ToList();
        try
        {
            return await api.PatchAsync(obj.Metadata.NamespaceProperty, obj.Metadata.Name, Patch(obj, finalizers), ct);
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.NotFound)
        {
            // Gone already (an earlier reconcile's patch landed, or another finalizer was the last): nothing holds it.
            return obj;
        }
    }

    private static V1Patch Patch(IKubernetesObject<V1ObjectMeta> obj, IList<string> finalizers) => new(
        new JsonObject
        {
            ["metadata"] = new JsonObject
            {
                ["finalizers"] = JsonNodes.Strings(finalizers),
                ["resourceVersion"] = obj.Metadata.ResourceVersion,
            },
        }.ToJsonString(),
        V1Patch.PatchType.MergePatch);
}

/// <summary>
/// Records Kubernetes Events (core/v1) about an object, as kubectl describe shows them. The same event about the same
/// object again (type, reason and message alike) raises the count of the one recorded, as client-go's event correlator
/// does ("x3 over 2m" in kubectl describe), instead of a new Event each time: two reconciles that both saw the same state
/// (the second before the cache had the first's status write) tell it once.
/// </summary>
public sealed class EventRecorder(IKubernetes kube, TimeProvider clock, ILogger<EventRecorder> log)
{
    public const string Component = "gentoo-operator";

    // As many kinds of event as client-go's correlator remembers; the oldest is forgotten first.
    private const int Remembered = 4096;

    private readonly Lock gate = new();
    private readonly Dictionary<EventKey, LinkedListNode<Recorded>> recorded = [];
    private readonly LinkedList<Recorded> byAge = [];

    public async Task RecordAsync(IKubernetesObject<V1ObjectMeta> obj, string type, string reason, string message, CancellationToken ct)
    {
        var now = clock.GetUtcNow().UtcDateTime;
        var ns = obj.Metadata.NamespaceProperty ?? "default";
        message = message.Length > 1024 ? message[..1024] : message;
        var key = new EventKey(ns, obj.Kind, obj.Metadata.Name, obj.Metadata.Uid, type, reason, message);
        try
        {
            if (Again(key) is { } earlier && await CountAgainAsync(earlier, now, ct))
            {
                return;
            }

            var created = await kube.CoreV1.CreateNamespacedEventAsync(NewEvent(obj, ns, type, reason, message, now), ns, cancellationToken: ct);
            Remember(key, created.Metadata.Name);
        }
        catch (HttpOperationException e)
        {
            // Events are best effort: a full namespace quota must not fail the reconcile.
            log.LogWarning("Could not record event {Reason} for {Kind} {Object}: {Status}", reason, obj.Kind, ObjectKey.Of(obj), e.Response.StatusCode);
        }
    }

    /// <summary>The event recorded before with this key, its count raised by one; null if there is none.</summary>
    private Recorded? Again(EventKey key)
    {
        lock (gate)
        {
            if (!recorded.TryGetValue(key, out var node))
            {
                return null;
            }

            byAge.Remove(node);
            byAge.AddFirst(node);
            node.Value = node.Value with { Count = node.Value.Count + 1 };
            return node.Value;
        }
    }

    /// <summary>Raises the recorded Event's count; false if it is gone (Events expire, an hour by default), to record anew.</summary>
    private async Task<bool> CountAgainAsync(Recorded earlier, DateTime now, CancellationToken ct)
    {
        var patch = new JsonObject { ["count"] = earlier.Count, ["lastTimestamp"] = JsonNodes.Time(now) }.ToJsonString();
        try
        {
            await kube.CoreV1.PatchNamespacedEventAsync(new V1Patch(patch, V1Patch.PatchType.MergePatch), earlier.Name, earlier.Key.Namespace, cancellationToken: ct);
            return true;
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.NotFound)
        {
            lock (gate)
            {
                if (recorded.Remove(earlier.Key, out var node))
                {
                    byAge.Remove(node);
                }
            }

            return false;
        }
    }

    private void Remember(EventKey key, string name)
    {
        lock (gate)
        {
            if (recorded.Remove(key, out var old))
            {
                byAge.Remove(old);
            }

            recorded[key] = byAge.AddFirst(new Recorded(key, name, 1));
            if (byAge.Count > Remembered)
            {
                recorded.Remove(byAge.Last!.Value.Key);
                byAge.RemoveLast();
            }
        }
    }

    private static Corev1Event NewEvent(IKubernetesObject<V1ObjectMeta> obj, string ns, string type, string reason, string message, DateTime now) => new()
    {
        Metadata = new V1ObjectMeta { GenerateName = obj.Metadata.Name + ".", NamespaceProperty = ns },
        InvolvedObject = new V1ObjectReference
        {
            ApiVersion = obj.ApiVersion,
            Kind = obj.Kind,
            Name = obj.Metadata.Name,
            NamespaceProperty = obj.Metadata.NamespaceProperty,
            Uid = obj.Metadata.Uid,
            ResourceVersion = obj.Metadata.ResourceVersion,
        },
        Type = type,
        Reason = reason,
        Message = message,
        Source = new V1EventSource { Component = Component },
        ReportingComponent = Component,
        ReportingInstance = Environment.MachineName,
        FirstTimestamp = now,
        LastTimestamp = now,
        EventTime = now,
        Action = reason,
        Count = 1,
    };

    private sealed record EventKey(string Namespace, string Kind, string Name, string? Uid, string Type, string Reason, string Message);

    private sealed record Recorded(EventKey Key, string Name, int Count);
}
