using k8s;
using k8s.Models;

namespace Gentoo.Runtime;

/// <summary>What to reconcile: just namespace/name; the reconciler reads the current state itself (level-based).</summary>
public readonly record struct ReconcileRequest(string Namespace, string Name, string ReconcileId)
{
    /// <summary>The log context property that carries <see cref="ReconcileId"/> through everything one reconcile does.</summary>
    public const string ReconcileIdProperty = "ReconcileId";

    public ObjectKey Key => new(Namespace, Name);

    public override string ToString() => Key.ToString();
}

/// <summary>The outcome of a reconcile: done, or come back after a delay. An exception means: retry with backoff.</summary>
public readonly record struct ReconcileResult(TimeSpan? RequeueAfter)
{
    /// <summary>
    /// The resourceVersion the reconcile's last write, of the object's own status, stored: the watch event that write
    /// comes back as carries only what the reconcile decided, and does not wake it again.
    /// </summary>
    public string? WroteStatusAt { get; init; }

    public static ReconcileResult Done { get; } = new(null);

    public static ReconcileResult After(TimeSpan delay) => new(delay);
}

/// <summary>One reconciler per kind, as controller-runtime's Reconcile(request) -> result.</summary>
public interface IReconciler<T>
    where T : class, IKubernetesObject<V1ObjectMeta>
{
    Task<ReconcileResult> ReconcileAsync(ReconcileRequest request, CancellationToken ct);
}

/// <summary>An error that retrying will not fix until the object changes: no backoff loop, no requeue.</summary>
public sealed class TerminalException(string reason, string message) : Exception(message)
{
    public string Reason { get; } = reason;
}
