using Gentoo.Entities.V1Alpha1;
using Gentoo.Runtime;
using k8s;
using k8s.Models;

namespace Gentoo.Operator.Decisions;

/// <summary>Why a volume found under the name a resource wants cannot be used (yet): the reason, a sentence, and whether only a person can help.</summary>
public sealed record ClaimProblem(string Reason, string Message, bool Stalled);

/// <summary>Judges a PersistentVolumeClaim found under the name of one the operator would make.</summary>
public static class ClaimChecks
{
    /// <summary>
    /// Null when <paramref name="existing"/> is <paramref name="owner"/>'s and usable. A claim of another object's is a
    /// conflict only a person resolves; a claim being deleted (pvc-protection keeps it while any pod, finished ones
    /// included, names it) or left by an earlier object of the same kind and name (the garbage collector's) is waited
    /// for, naming the pods that hold it.
    /// </summary>
    public static ClaimProblem? Check(V1PersistentVolumeClaim existing, V1PersistentVolumeClaim desired, IKubernetesObject<V1ObjectMeta> owner, IEnumerable<V1Pod> pods)
    {
        var holder = Ownership.Of(existing.Metadata, desired.Metadata, owner);
        if (holder == Holder.Foreign)
        {
            return new ClaimProblem(Reasons.NameConflict, Ownership.Conflict("PersistentVolumeClaim", existing.Metadata, owner), Stalled: true);
        }

        if (existing.Metadata.DeletionTimestamp is not null)
        {
            var users = Users(existing, pods);
            var held = users.Count > 0
                ? $"pods still naming it: {string.Join(", ", users)} (a finished pod counts too; delete it to let the claim go)"
                : "no pod of the operator's names it (see kubectl describe pvc " + existing.Name() + ")";
            return new ClaimProblem(Reasons.VolumeTerminating, $"PersistentVolumeClaim {existing.Name()} is being deleted; {held}", Stalled: false);
        }

        if (holder == Holder.EarlierIncarnation)
        {
            return new ClaimProblem(Reasons.VolumeTerminating,
                $"PersistentVolumeClaim {existing.Name()} belongs to an earlier {owner.Kind} {owner.Name()} that was deleted; waiting for the garbage collector to remove it", Stalled: false);
        }

        return null;
    }

    /// <summary>The names of the pods whose volumes name <paramref name="claim"/>, whatever their phase.</summary>
    public static IReadOnlyList<string> Users(V1PersistentVolumeClaim claim, IEnumerable<V1Pod> pods) =>
        [.. pods.Where(p => p.Namespace() == claim.Namespace() && p.Spec?.Volumes?.Any(v => v.PersistentVolumeClaim?.ClaimName == claim.Name()) == true)
            .Select(p => p.Name()).Order(StringComparer.Ordinal)];
}
