namespace Gentoo.Protocol;

/// <summary>What one agent run does: the proof of concept's make targets, and a ready chroot for a person.</summary>
public enum AgentStep
{
    /// <summary>Write the desired configuration into /etc/portage.</summary>
    Configure,

    /// <summary>emaint --auto sync.</summary>
    Sync,

    /// <summary>Sync, then what a world update would change (make update).</summary>
    Update,

    /// <summary>The ordered bootstrap steps, then the check (make bootstrap, make check).</summary>
    Bootstrap,

    /// <summary>The consistency check alone.</summary>
    Check,

    /// <summary>emerge --buildpkg --usepkg (make build).</summary>
    Build,

    /// <summary>A ready, mounted chroot for kubectl exec (make bash).</summary>
    Shell,

    /// <summary>Publish a kept release on the binpkgs volume (a person's rollback), then apply retention.</summary>
    Publish,
}

public static class AgentSteps
{
    /// <summary>The step's name on the agent's command line and in its report ("build").</summary>
    public static string Name(this AgentStep step) => step.ToString().ToLowerInvariant();

    public static bool TryParse(string? name, out AgentStep step)
    {
        foreach (var candidate in Enum.GetValues<AgentStep>())
        {
            if (candidate.Name() == name)
            {
                step = candidate;
                return true;
            }
        }

        step = default;
        return false;
    }

    /// <summary>Every step's name, for a usage message.</summary>
    public static IEnumerable<string> Names => Enum.GetValues<AgentStep>().Select(Name);
}
