namespace Gentoo.Agent;

/// <summary>The agent's exit status, which the operator reads from the terminated container.</summary>
public static class ExitCodes
{
    /// <summary>The step did what it was asked.</summary>
    public const int Success = 0;

    /// <summary>A person must act: configuration to change or a build failure to fix (the report says which).</summary>
    public const int NeedsOperator = 10;

    /// <summary>A retry may succeed: a download failed or the run was interrupted.</summary>
    public const int Transient = 20;

    /// <summary>The agent itself could not run the step: bad input, a missing volume, an unreadable configuration.</summary>
    public const int AgentError = 30;
}
