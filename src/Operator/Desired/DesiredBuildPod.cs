using Gentoo.Entities.Schema;
using System.Globalization;
using Gentoo.Entities.V1Alpha1;
using Gentoo.Protocol;
using Gentoo.Operator.Decisions;
using Gentoo.Portage.Kernels;
using k8s;
using k8s.Models;

namespace Gentoo.Operator.Desired;

/// <summary>
/// The pod of one BuildRun attempt: the agent's build step on the builder's volumes. Its name is deterministic per
/// attempt, so an operator restart finds the pod it started instead of starting a second build.
/// </summary>
public static class DesiredBuildPod
{
    public const string BuildRunLabel = GroupVersion.Group + "/buildrun";
    public const string AttemptLabel = GroupVersion.Group + "/attempt";

    /// <summary>RUN-N, shortened with a hash when the run's name is long, so that it is always a valid pod name.</summary>
    public static string PodName(string run, int attempt) => DesiredAgentPod.Name(run, attempt.ToString(CultureInfo.InvariantCulture));

    public static V1Pod Build(
        BuildRun run, GentooBuilder builder, int attempt, KernelVersion? requiredKernel, PodSettings settings, IList<ConfigSource>? configFrom = null)
    {
        var spec = run.Spec;
        var more = new List<string>();
        if (spec.Sync == true)
        {
            more.Add("--sync");
        }

        foreach (var package in spec.Packages is { Count: > 0 } packages ? packages : ["@world"])
        {
            more.AddRange(["--package", package]);
        }

        foreach (var arg in spec.EmergeArgs ?? [])
        {
            more.AddRange(["--emerge-arg", arg]);
        }

        if (spec.KeepGoing == true)
        {
            more.Add("--keep-going");
        }

        // The agent proposes keyword changes at this width, the slot read from the repositories where it is asked for.
        more.AddRange(["--keyword-scope", (builder.Spec.KeywordScope ?? KeywordScope.Slot).ToString()]);

        var labels = new Dictionary<string, string>
        {
            [ObjectLabels.Builder] = builder.Name(),
            [BuildRunLabel] = run.Name(),
            [AttemptLabel] = attempt.ToString(CultureInfo.InvariantCulture),
        };
        more.AddRange(DesiredSigning.KeyArguments(builder));
        more.AddRange(Releases.BuildArguments(run, builder));
        var pod = DesiredAgentPod.Build(PodName(run.Name(), attempt), run, labels, DesiredBuilderPods.Placement(builder, requiredKernel, configFrom),
            DesiredBuilderPods.Arguments(AgentStep.Build, builder, settings, [.. more]), DesiredSigning.WithKey(builder, DesiredBuilderPods.Volumes(builder)), settings);

        // spec.timeout bounds one attempt: the kubelet stops the pod gracefully (emerge gets SIGTERM, what it built stays)
        // and marks it DeadlineExceeded, which the run reports as Timeout before acting on onFailure.
        if (Durations.TryParse(spec.Timeout, out var timeout) && timeout > TimeSpan.Zero)
        {
            pod.Spec.ActiveDeadlineSeconds = Math.Max(1, (long)Math.Ceiling(timeout.TotalSeconds));
        }

        return pod;
    }
}
