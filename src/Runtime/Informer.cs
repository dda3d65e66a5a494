using System.Collections.Concurrent;
using System.Collections.Immutable;
using k8s;
using k8s.Autorest;
using k8s.Models;
using Microsoft.Extensions.Logging;

namespace Gentoo.Runtime;

/// <summary>What happened to an object in the cache.</summary>
public enum CacheEventType
{
    Added,
    Updated,
    Deleted,
}

public sealed record CacheEvent<T>(CacheEventType Type, T Object, T? Old);

/// <summary>A read-only view of an informer's cache, for reconcilers.</summary>
public interface ICache<T>
    where T : class, IKubernetesObject<V1ObjectMeta>
{
    bool HasSynced { get; }

    T? Get(ObjectKey key);

    IReadOnlyList<T> List(string? ns = null);

    /// <summary>Objects that name the given uid among their ownerReferences.</summary>
    IReadOnlyList<T> OwnedBy(string ownerUid);

    /// <summary>Objects <paramref name="index"/> files under <paramref name="value"/>, without looking at the others.</summary>
    /// <exception cref="InvalidOperationException">The cache keeps no such index.</exception>
    IReadOnlyList<T> ByIndex(CacheIndex<T> index, string value);
}

/// <summary>
/// A secondary key of a cache, as client-go's indexers are: the values an object is filed under (none, one or more),
/// kept up to date with every change, so a controller asking "the runs of this builder" does not go through them all.
/// </summary>
public sealed class CacheIndex<T>(string name, Func<T, IEnumerable<string>> valuesOf, IComparer<T>? order = null)
{
    public string Name { get; } = name;

    /// <summary>
    /// The order the objects of one value come in, kept as they change (each change costs a logarithm of their number,
    /// not a sort); null keeps none. It must tell apart any two objects filed under one value.
    /// </summary>
    public IComparer<T>? Order { get; } = order;

    public IEnumerable<string> ValuesOf(T obj) => valuesOf(obj);

    public override string ToString() => Name;
}

/// <summary>
/// Keeps a local copy of one kind: lists, then watches from the list's resourceVersion with bookmarks. A dropped
/// connection re-watches from the last version seen, with backoff; 410 Gone re-lists and emits the differences,
/// so handlers see every change that matters and the cache converges.
/// </summary>
public sealed class Informer<T>(IListWatch<T> source, string? ns, OperatorMetrics metrics, ILogger log, InformerOptions? options = null) : ICache<T>
    where T : class, IKubernetesObject<V1ObjectMeta>
{
    private static readonly CacheIndex<T> Owners = new("owner", obj => (obj.Metadata.OwnerReferences ?? []).Select(owner => owner.Uid));
    private readonly ConcurrentDictionary<ObjectKey, T> items = new();
    private readonly Dictionary<CacheIndex<T>, Filing> indexes = new() { [Owners] = new Filing(Owners) };
    private readonly TaskCompletionSource synced = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly InformerOptions settings = options ?? new InformerOptions();
    private readonly List<Action<CacheEvent<T>>> handlers = [];

    public KindInfo Kind => source.Kind;

    public bool HasSynced => synced.Task.IsCompleted;

    /// <summary>The resourceVersion the next watch starts from.</summary>
    public string LastResourceVersion { get; private set; } = "";

    public void AddHandler(Action<CacheEvent<T>> handler) => handlers.Add(handler);

    /// <summary>Keeps <paramref name="index"/> from now on; added before the informer runs, as handlers are.</summary>
    public void AddIndex(CacheIndex<T> index) => indexes.Add(index, new Filing(index));

    public Task WaitForSyncAsync(CancellationToken ct) => synced.Task.WaitAsync(ct);

    public T? Get(ObjectKey key) => items.GetValueOrDefault(key);

    public IReadOnlyList<T> List(string? ns = null) =>
        items.Values.Where(o => ns is null || o.Metadata.NamespaceProperty == ns).ToList();

    public IReadOnlyList<T> OwnedBy(string ownerUid) => ByIndex(Owners, ownerUid);

    public IReadOnlyList<T> ByIndex(CacheIndex<T> index, string value) =>
        indexes.TryGetValue(index, out var filing)
            ? filing.Under(value)
            : throw new InvalidOperationException($"the {source.Kind.Kind} cache keeps no index {index}");

    public async Task RunAsync(CancellationToken ct)
    {
        var failures = 0;
        var needList = true;
        while (!ct.IsCancellationRequested)
        {
            try
            {
                if (needList)
                {
                    await ListAsync(ct);
                    needList = false;
                }

                var gone = false;
                await foreach (var (type, obj) in source.WatchAsync(ns, LastResourceVersion, settings.WatchTimeout, e => gone |= IsGone(e), ct))
                {
                    failures = 0;
                    Apply(type, obj);
                }

                if (gone)
                {
                    metrics.WatchRestarts.WithLabels(Kind.Kind, "gone").Inc();
                    log.LogInformation("Watch of {Kind} expired at resourceVersion {ResourceVersion}; re-listing", Kind, LastResourceVersion);
                    needList = true;
                }
                else
                {
                    metrics.WatchRestarts.WithLabels(Kind.Kind, "closed").Inc();
                }
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }
            catch (HttpOperationException e) when (e.Response.StatusCode == System.Net.HttpStatusCode.Gone)
            {
                metrics.WatchRestarts.WithLabels(Kind.Kind, "gone").Inc();
                needList = true;
            }
            catch (Exception e)
            {
                failures++;
                metrics.WatchRestarts.WithLabels(Kind.Kind, "error").Inc();
                var delay = Backoff.Exponential(failures, settings.InitialBackoff, settings.MaxBackoff);
                if (e is HttpRequestException or IOException or HttpOperationException or KubernetesException or OperationCanceledException)
                {
                    log.LogWarning("Watch of {Kind} failed ({Error}); retrying in {Delay}", Kind, e.Message, delay);
                }
                else
                {
                    // A defect, not the network (an object the client cannot read, say): said loudly and retried, so the
                    // cache is not left unsynced, and the operator unready, with nothing in the log to say why.
                    log.LogError(e, "List or watch of {Kind} failed unexpectedly; retrying in {Delay}", Kind, delay);
                }

                await Task.Delay(delay, ct).ContinueWith(_ => { }, TaskScheduler.Default);
            }
        }
    }

    private async Task ListAsync(CancellationToken ct)
    {
        var list = await source.ListAsync(ns, ct);
        var seen = new HashSet<ObjectKey>();
        foreach (var obj in list.Items)
        {
            var key = ObjectKey.Of(obj);
            seen.Add(key);
            Upsert(key, obj);
        }

        // What vanished while we were not watching is reported as deleted, with its last known state.
        foreach (var (key, old) in items.ToList())
        {
            if (!seen.Contains(key) && items.TryRemove(key, out _))
            {
                Unindex(key, old);
                Notify(new CacheEvent<T>(CacheEventType.Deleted, old, old));
            }
        }

        LastResourceVersion = list.Metadata.ResourceVersion ?? "";
        synced.TrySetResult();
    }

    private void Apply(WatchEventType type, T obj)
    {
        LastResourceVersion = obj.Metadata?.ResourceVersion ?? LastResourceVersion;
        switch (type)
        {
            case WatchEventType.Added or WatchEventType.Modified:
                Upsert(ObjectKey.Of(obj), obj);
                break;
            case WatchEventType.Deleted:
                var key = ObjectKey.Of(obj);
                if (items.TryRemove(key, out var old))
                {
                    Unindex(key, old);
                }

                Notify(new CacheEvent<T>(CacheEventType.Deleted, obj, old));
                break;
        }
    }

    private void Upsert(ObjectKey key, T obj)
    {
        var old = items.GetValueOrDefault(key);
        if (old is not null && old.Metadata.ResourceVersion == obj.Metadata.ResourceVersion)
        {
            return;
        }

        // Which client wrote which field (kube-apiserver keeps it on every object, a few kilobytes each) is read by no
        // controller: the cache does not keep it, as controller-runtime's TransformStripManagedFields. A status write of
        // a cached object leaves the server's record as it is (an update without managedFields keeps the stored ones).
        obj.Metadata.ManagedFields = null;
        items[key] = obj;
        foreach (var filing in indexes.Values)
        {
            filing.Replace(key, old, obj);
        }

        Notify(new CacheEvent<T>(old is null ? CacheEventType.Added : CacheEventType.Updated, obj, old));
    }

    private void Unindex(ObjectKey key, T old)
    {
        foreach (var filing in indexes.Values)
        {
            filing.Remove(key, old);
        }
    }

    /// <summary>
    /// One index's objects by value. Written only by the informer's own loop, one change at a time; read by any reconcile.
    /// A value no object is filed under any more goes, so owners and builders long deleted leave nothing behind.
    /// </summary>
    private sealed class Filing(CacheIndex<T> index)
    {
        private readonly ConcurrentDictionary<string, Shelf> byValue = new(StringComparer.Ordinal);

        /// <summary>Files <paramref name="obj"/> under its values before taking <paramref name="old"/> from those it left: a reader never misses an object that stayed.</summary>
        public void Replace(ObjectKey key, T? old, T obj)
        {
            var values = index.ValuesOf(obj).ToList();
            foreach (var value in values)
            {
                byValue.GetOrAdd(value, _ => index.Order is { } order ? new OrderedShelf(order) : new ArrayShelf()).Put(key, obj);
            }

            if (old is not null)
            {
                Remove(key, index.ValuesOf(old).Except(values, StringComparer.Ordinal));
            }
        }

        public void Remove(ObjectKey key, T obj) => Remove(key, index.ValuesOf(obj));

        private void Remove(ObjectKey key, IEnumerable<string> values)
        {
            foreach (var value in values)
            {
                if (byValue.TryGetValue(value, out var shelf) && shelf.Take(key) && shelf.Objects.Count == 0)
                {
                    byValue.TryRemove(KeyValuePair.Create(value, shelf));
                }
            }
        }

        /// <summary>The objects filed under <paramref name="value"/>, as they are now (in the index's order, if it has one); later changes do not alter it.</summary>
        public IReadOnlyList<T> Under(string value) => byValue.TryGetValue(value, out var shelf) ? shelf.Objects : [];
    }

    /// <summary>
    /// The objects filed under one value, as an immutable collection the informer's loop (the only writer) replaces on
    /// each change: the queue reads a builder's runs on every change of one of them, a thousand when a thousand are
    /// queued, and a reader takes the collection as it is, without a lock or a copy.
    /// </summary>
    private abstract class Shelf
    {
        public abstract IReadOnlyList<T> Objects { get; }

        public abstract void Put(ObjectKey key, T obj);

        public abstract bool Take(ObjectKey key);
    }

    /// <summary>Unordered: an array copied on each change (a copy is one memory move), the last object moving into a gap.</summary>
    private sealed class ArrayShelf : Shelf
    {
        private readonly Dictionary<ObjectKey, int> positions = [];
        private volatile T[] objects = [];

        public override IReadOnlyList<T> Objects => objects;

        public override void Put(ObjectKey key, T obj)
        {
            var current = objects;
            T[] next;
            if (positions.TryGetValue(key, out var at))
            {
                next = (T[])current.Clone();
                next[at] = obj;
            }
            else
            {
                next = new T[current.Length + 1];
                current.CopyTo(next, 0);
                next[current.Length] = obj;
                positions[key] = current.Length;
            }

            objects = next;
        }

        public override bool Take(ObjectKey key)
        {
            if (!positions.Remove(key, out var at))
            {
                return false;
            }

            var current = objects;
            var next = new T[current.Length - 1];
            Array.Copy(current, next, next.Length);
            if (at < next.Length)
            {
                var last = current[^1];
                next[at] = last;
                positions[ObjectKey.Of(last)] = at;
            }

            objects = next;
            return true;
        }
    }

    /// <summary>
    /// Ordered: an immutable sorted set, each change a removal and an insertion that share the rest of the tree. Cached
    /// objects are never changed in place, so the version filed is found again by its own order.
    /// </summary>
    private sealed class OrderedShelf(IComparer<T> order) : Shelf
    {
        private readonly Dictionary<ObjectKey, T> filed = [];
        private volatile ImmutableSortedSet<T> objects = ImmutableSortedSet.Create(order);

        public override IReadOnlyList<T> Objects => objects;

        public override void Put(ObjectKey key, T obj)
        {
            var others = filed.TryGetValue(key, out var old) ? objects.Remove(old) : objects;
            var next = others.Add(obj);
            if (next.Count == others.Count)
            {
                throw new InvalidOperationException($"the index's order does not tell {key} apart from another object filed under the same value");
            }

            filed[key] = obj;
            objects = next;
        }

        public override bool Take(ObjectKey key)
        {
            if (!filed.Remove(key, out var old))
            {
                return false;
            }

            objects = objects.Remove(old);
            return true;
        }
    }

    private void Notify(CacheEvent<T> change)
    {
        foreach (var handler in handlers)
        {
            handler(change);
        }
    }

    private static bool IsGone(Exception e) => e is KubernetesException { Status.Code: 410 };
}

public sealed record InformerOptions
{
    /// <summary>How long one watch request lasts before the informer renews it (the server may end it earlier).</summary>
    public TimeSpan WatchTimeout { get; init; } = TimeSpan.FromMinutes(5);

    public TimeSpan InitialBackoff { get; init; } = TimeSpan.FromMilliseconds(100);

    public TimeSpan MaxBackoff { get; init; } = TimeSpan.FromSeconds(30);
}

/// <summary>Exponential backoff with full jitter's upper half, so restarts of many clients spread out.</summary>
public static class Backoff
{
    public static TimeSpan Exponential(int failures, TimeSpan initial, TimeSpan max)
    {
        var exponent = Math.Min(failures - 1, 30);
        var ceiling = Math.Min(max.TotalMilliseconds, initial.TotalMilliseconds * Math.Pow(2, exponent));
        return TimeSpan.FromMilliseconds(ceiling / 2 + (Random.Shared.NextDouble() * ceiling / 2));
    }
}
