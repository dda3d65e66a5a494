using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Gentoo.Entities.V1Alpha1;
using Gentoo.Protocol;
using Gentoo.Portage.Kernels;
using Gentoo.Runtime;
using k8s;
using k8s.Models;

namespace Gentoo.Operator.Desired;

/// <summary>One step of a bootstrap plan as the agent runs it: a spec step or a cycle-breaking step the operator added.</summary>
public sealed record PlannedStep(string Name, IReadOnlyList<string> Atoms, IReadOnlyList<string>? Use, bool Oneshot, IReadOnlyList<string>? EmergeArgs);

/// <summary>
/// What a GentooBootstrap needs besides its root volume: the Portage configuration, the plan the agent's bootstrap step
/// follows (the steps not yet done for this spec, cycle breaks before the step that met the cycle, then the check), and
/// the bootstrap pod.
/// </summary>
public static class DesiredBootstrap
{
    public const string PlanKey = "bootstrap.json";
    public const string PlanMount = "/etc/gentoo-builder/plan";
    public const string CheckStep = "check";

    public static string ConfigMapName(string bootstrap) => bootstrap + "-bootstrap-portage";

    public static string PlanConfigMapName(string bootstrap) => bootstrap + "-bootstrap-plan";

    /// <summary>What the configuration and plan ConfigMaps were named before: a builder of the same name wants the first.</summary>
    public static IReadOnlyList<string> LegacyConfigMapNames(string bootstrap) => [bootstrap + "-portage", bootstrap + "-plan"];

    public static string PodName(string bootstrap, int attempt) => DesiredAgentPod.Name(bootstrap, "bootstrap-" + attempt.ToString(CultureInfo.InvariantCulture));

    /// <summary>The managed Portage configuration: inline, repositories, configFrom ConfigMaps in order, and the profile link.</summary>
    public static Dictionary<string, string> Config(GentooBootstrap bootstrap, IEnumerable<IDictionary<string, string>> configMaps)
    {
        var spec = bootstrap.Spec;
        var data = DesiredConfig.Portage(spec.Portage, spec.Repositories?.ToList(), configMaps).ToDictionary(StringComparer.Ordinal);
        // The profile is one of the main repository's: the first listed, or gentoo.
        data["make.profile"] = $"{DesiredConfig.Location(spec.Repositories is { Count: > 0 } repos ? repos[0] : new RepositorySpec { Name = "gentoo" })}/profiles/{spec.Profile}\n";
        return data;
    }

    /// <summary>Every step of the spec in order, each preceded by the cycle breaks applied before it; then the check's breaks.</summary>
    public static IReadOnlyList<PlannedStep> AllSteps(GentooBootstrap bootstrap)
    {
        var breaks = bootstrap.Status?.AppliedCycleBreaks ?? [];
        IEnumerable<PlannedStep> Before(string step) => breaks.Where(b => b.Before == step && b.Step is not null && b.UseChange is not null).Select(CycleBreakStep);
        var steps = new List<PlannedStep>();
        foreach (var step in bootstrap.Spec.BootstrapSteps ?? [])
        {
            steps.AddRange(Before(step.Name));
            steps.Add(new PlannedStep(step.Name, [.. step.Atoms], step.Use?.ToList(), step.Oneshot ?? true, step.EmergeArgs?.ToList()));
        }

        steps.AddRange(Before(CheckStep));
        return steps;
    }

    /// <summary>The steps still to run: those not completed with their current definition.</summary>
    public static IReadOnlyList<PlannedStep> RemainingSteps(GentooBootstrap bootstrap)
    {
        var digests = bootstrap.Status?.CompletedStepDigests ?? new Dictionary<string, string>();
        return [.. AllSteps(bootstrap).Where(s => !digests.TryGetValue(s.Name, out var done) || done != Digest(bootstrap.Spec, s))];
    }

    /// <summary>A step's identity for "has this run already": its definition and the profile it ran under.</summary>
    public static string Digest(GentooBootstrapSpec spec, PlannedStep step)
    {
        // The field names and order are those of the anonymous object earlier versions serialised: stored digests stay valid.
        var text = new JsonObject
        {
            ["Profile"] = spec.Profile,
            ["Atoms"] = JsonNodes.Strings(step.Atoms),
            ["Use"] = JsonNodes.Strings(step.Use),
            ["Oneshot"] = step.Oneshot,
            ["EmergeArgs"] = JsonNodes.Strings(step.EmergeArgs),
        }.ToJsonString();
        return Gentoo.Runtime.Digest.Of(text, 16);
    }

    /// <summary>The added one-shot step for a USE change emerge proposed ("=dev-libs/libmarkup-3.0 -doc").</summary>
    public static PlannedStep CycleBreakStep(AppliedCycleBreak applied)
    {
        var parts = applied.UseChange!.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return new PlannedStep(applied.Step!, [parts[0]], parts[1..], Oneshot: true, EmergeArgs: null);
    }

    /// <summary>bootstrap.json for the agent.</summary>
    public static string Plan(GentooBootstrap bootstrap, IReadOnlyList<PlannedStep> steps)
    {
        var check = bootstrap.Spec.Check;
        var plan = new JsonObject
        {
            ["steps"] = new JsonArray([.. steps.Select(s => (JsonNode)new JsonObject
            {
                ["name"] = s.Name,
                ["atoms"] = JsonNodes.Strings(s.Atoms),
                ["use"] = s.Use is { Count: > 0 } use ? JsonNodes.Strings(use) : null,
                ["oneshot"] = s.Oneshot,
                ["emergeArgs"] = s.EmergeArgs is { Count: > 0 } args ? JsonNodes.Strings(args) : null,
            })]),
            ["check"] = new JsonObject
            {
                ["enabled"] = check?.Enabled ?? true,
                ["emergeArgs"] = check?.EmergeArgs is { Count: > 0 } checkArgs ? JsonNodes.Strings(checkArgs) : null,
            },
        };
        return plan.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n";
    }

    public static V1Pod Pod(GentooBootstrap bootstrap, int attempt, PodSettings settings)
    {
        var spec = bootstrap.Spec;
        var placement = new AgentPlacement(spec.Stage3.Image, spec.Resources, spec.NodeSelector, spec.Tolerations,
            KernelVersion.TryParse(spec.MinKernel, out var kernel) ? kernel : null, PullPolicy: spec.Stage3.PullPolicy?.ToString(),
            ConfigGit: DesiredGitConfig.Sources(spec.ConfigFrom));
        // The bootstrap alone fills its empty root volume, from the stage3 image it runs in.
        var args = DesiredAgentPod.Arguments(AgentStep.Bootstrap, spec.Resources, settings,
            "--config", AgentPod.ConfigMount, "--plan", PlanMount + "/" + PlanKey, "--populate-from", "/");
        var labels = new Dictionary<string, string>
        {
            [ObjectLabels.Bootstrap] = bootstrap.Name(),
            [DesiredBuildPod.AttemptLabel] = attempt.ToString(CultureInfo.InvariantCulture),
        };
        return DesiredAgentPod.Build(PodName(bootstrap.Name(), attempt), bootstrap, labels, placement, args,
        [
            PodVolume.Claim("root", AgentPod.RootMount, DesiredVolumes.BootstrapRootName(bootstrap)),
            PodVolume.ConfigMap("config", AgentPod.ConfigMount, ConfigMapName(bootstrap.Name())),
            PodVolume.ConfigMap("plan", PlanMount, PlanConfigMapName(bootstrap.Name())),
        ], settings);
    }
}
