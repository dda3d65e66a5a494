using System.Text.Json;
using System.Text.Json.Serialization;
using Gentoo.Portage.Atoms;

namespace Gentoo.Agent.Config;

/// <summary>One ordered bootstrap step: emerge the atoms, with USE flags set only for this step.</summary>
public sealed record BootstrapStepPlan(string Name, IReadOnlyList<string> Atoms, IReadOnlyList<string>? Use, bool Oneshot = true, IReadOnlyList<string>? EmergeArgs = null);

/// <summary>The consistency check after the steps.</summary>
public sealed record CheckPlan(bool Enabled = true, IReadOnlyList<string>? EmergeArgs = null);

/// <summary>What the bootstrap step runs, as the operator writes it from the GentooBootstrap spec (bootstrap.json).</summary>
public sealed record BootstrapPlan(IReadOnlyList<BootstrapStepPlan> Steps, CheckPlan? Check)
{
    public static BootstrapPlan Load(string path)
    {
        if (!File.Exists(path))
        {
            throw new ConfigException($"bootstrap plan {path} does not exist (is the ConfigMap mounted?)");
        }

        BootstrapPlan? plan;
        try
        {
            plan = JsonSerializer.Deserialize(File.ReadAllText(path), BootstrapPlanJson.Default.BootstrapPlan);
        }
        catch (JsonException e)
        {
            throw new ConfigException($"bootstrap plan {path}: {e.Message}");
        }

        if (plan?.Steps is null)
        {
            throw new ConfigException($"bootstrap plan {path}: steps is required (an empty list when there are none)");
        }

        for (var i = 0; i < plan.Steps.Count; i++)
        {
            var step = plan.Steps[i];
            if (string.IsNullOrWhiteSpace(step.Name) || step.Atoms is not { Count: > 0 })
            {
                throw new ConfigException($"bootstrap plan {path}: steps[{i}] needs a name and at least one atom");
            }

            foreach (var atom in step.Atoms)
            {
                if (!Atom.TryParse(atom, out _, out var error))
                {
                    throw new ConfigException($"bootstrap plan {path}: steps[{i}] ({step.Name}): {error}");
                }
            }
        }

        return plan;
    }
}

/// <summary>The plan's JSON contract, generated at compile time: the published agent is trimmed, without reflection's metadata.</summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    AllowTrailingCommas = true,
    UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow)]
[JsonSerializable(typeof(BootstrapPlan))]
internal sealed partial class BootstrapPlanJson : JsonSerializerContext;
