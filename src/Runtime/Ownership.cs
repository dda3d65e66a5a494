using k8s;
using k8s.Models;

namespace Gentoo.Runtime;

/// <summary>Whose an object found under a name is, seen from the owner that wants to make an object of that name.</summary>
public enum Holder
{
    /// <summary>This owner's: its controller reference, or (for what outlives its owner on purpose) its labels.</summary>
    Ours,

    /// <summary>An earlier object of the same kind and name, since deleted: what it owned is garbage-collected or adopted.</summary>
    EarlierIncarnation,

    /// <summary>Another object's, or made by someone else: never to be taken over.</summary>
    Foreign,
}

/// <summary>An object the operator would make exists and belongs to something else; the message names both.</summary>
public sealed class OwnershipConflictException(string message) : Exception(message);

/// <summary>
/// Tells which object found under a name belongs to whom, so that no reconciler ever writes into, mounts or adopts an
/// object of another kind's or another person's that happens to carry the name it wants.
/// </summary>
public static class Ownership
{
    /// <summary>
    /// Who holds <paramref name="existing"/>, for <paramref name="owner"/> about to make <paramref name="desired"/> under
    /// its name. An object without owner references is ours only when it carries every label <paramref name="desired"/>
    /// carries (the retained package volume and accepted fixes keep no owner, so that they outlive the builder).
    /// </summary>
    public static Holder Of(V1ObjectMeta existing, V1ObjectMeta desired, IKubernetesObject<V1ObjectMeta> owner)
    {
        var controller = ControllerOf(existing);
        if (controller is null)
        {
            var labels = desired.Labels ?? new Dictionary<string, string>();
            return labels.Count > 0 && labels.All(l => existing.Labels?.TryGetValue(l.Key, out var value) == true && value == l.Value) ? Holder.Ours : Holder.Foreign;
        }

        if (controller.Kind != owner.Kind || controller.Name != owner.Name())
        {
            return Holder.Foreign;
        }

        return controller.Uid == owner.Uid() ? Holder.Ours : Holder.EarlierIncarnation;
    }

    /// <summary>What a person reads when <paramref name="existing"/> (of <paramref name="kind"/>) is not <paramref name="owner"/>'s.</summary>
    public static string Conflict(string kind, V1ObjectMeta existing, IKubernetesObject<V1ObjectMeta> owner)
    {
        var controller = ControllerOf(existing);
        var whose = controller is null ? "no owner the operator recognises" : $"{controller.Kind} {controller.Name}";
        return $"{kind} {existing.Name} already exists and belongs to {whose}, not to {owner.Kind} {owner.Name()}: "
            + $"rename the {owner.Kind} or move the {kind} away; the operator never takes over or mounts an object that is not its own";
    }

    /// <summary>The controller reference, or the first owner where none is marked as controller.</summary>
    private static V1OwnerReference? ControllerOf(V1ObjectMeta meta) =>
        meta.OwnerReferences?.FirstOrDefault(r => r.Controller == true) ?? meta.OwnerReferences?.FirstOrDefault();
}
