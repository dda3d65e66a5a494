using k8s.Models;

namespace Gentoo.Runtime;

/// <summary>
/// Condition helpers following the Kubernetes conventions: one entry per type, lastTransitionTime moves only when
/// the status changes, observedGeneration records the generation the condition speaks about.
/// </summary>
public static class Conditions
{
    public static V1Condition? Find(IList<V1Condition>? conditions, string type) =>
        conditions?.FirstOrDefault(c => c.Type == type);

    public static bool IsTrue(IList<V1Condition>? conditions, string type) => Find(conditions, type)?.Status == "True";

    public static IList<V1Condition> Set(IList<V1Condition>? conditions, string type, bool status, string reason, string message, long? generation, DateTime now)
    {
        var list = conditions ?? new List<V1Condition>();
        var value = status ? "True" : "False";
        var existing = Find(list, type);
        if (existing is null)
        {
            list.Add(new V1Condition { Type = type, Status = value, Reason = reason, Message = message, LastTransitionTime = now, ObservedGeneration = generation });
            return list;
        }

        if (existing.Status != value)
        {
            existing.LastTransitionTime = now;
        }

        existing.Status = value;
        existing.Reason = reason;
        existing.Message = message;
        existing.ObservedGeneration = generation;
        return list;
    }

    public static IList<V1Condition> MarkTrue(IList<V1Condition>? conditions, string type, string reason, string message, long? generation, DateTime now) =>
        Set(conditions, type, true, reason, message, generation, now);

    public static IList<V1Condition> MarkFalse(IList<V1Condition>? conditions, string type, string reason, string message, long? generation, DateTime now) =>
        Set(conditions, type, false, reason, message, generation, now);

    /// <summary>Work under way: Reconciling=True and Ready=False, with the same reason and message.</summary>
    public static IList<V1Condition> MarkProgressing(IList<V1Condition>? conditions, string reason, string message, long? generation, DateTime now) =>
        MarkFalse(MarkTrue(conditions, "Reconciling", reason, message, generation, now), "Ready", reason, message, generation, now);

    /// <summary>Removes a condition; Reconciling, Stalled and AwaitingOperator exist only while true.</summary>
    public static IList<V1Condition> Remove(IList<V1Condition>? conditions, string type)
    {
        var list = conditions ?? new List<V1Condition>();
        if (Find(list, type) is { } existing)
        {
            list.Remove(existing);
        }

        return list;
    }
}
