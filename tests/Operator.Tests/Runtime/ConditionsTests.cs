using Gentoo.Entities.V1Alpha1;
using Gentoo.Runtime;

namespace Gentoo.Operator.Tests.Runtime;

public sealed class ConditionsTests
{
    private static readonly DateTime T0 = new(2026, 11, 25, 2, 0, 0, DateTimeKind.Utc);
    private static readonly DateTime T1 = T0.AddMinutes(5);

    [Fact]
    public void Transition_time_moves_only_when_the_status_changes()
    {
        var conditions = Conditions.MarkFalse(null, ConditionTypes.Ready, Reasons.Running, "building", 1, T0);
        Conditions.MarkFalse(conditions, ConditionTypes.Ready, Reasons.Queued, "waiting", 2, T1);

        var ready = Conditions.Find(conditions, ConditionTypes.Ready)!;
        ready.LastTransitionTime.ShouldBe(T0);
        ready.Reason.ShouldBe(Reasons.Queued);
        ready.ObservedGeneration.ShouldBe(2);

        Conditions.MarkTrue(conditions, ConditionTypes.Ready, Reasons.Succeeded, "built", 2, T1);
        ready.LastTransitionTime.ShouldBe(T1);
        Conditions.IsTrue(conditions, ConditionTypes.Ready).ShouldBeTrue();
    }

    [Fact]
    public void Abnormal_conditions_are_removed_rather_than_set_false()
    {
        var conditions = Conditions.MarkTrue(null, ConditionTypes.AwaitingOperator, "KeywordChangeRequired", "accept the keyword", 1, T0);

        Conditions.Remove(conditions, ConditionTypes.AwaitingOperator);

        conditions.ShouldBeEmpty();
    }
}
