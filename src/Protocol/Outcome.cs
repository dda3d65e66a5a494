namespace Gentoo.Protocol;

/// <summary>
/// What an agent run came to, as the report carries it (kebab-case on the wire: "keyword-change-required"). The agent
/// maps the classifier's classes onto it, the operator maps it onto the API's failure classes: both mappings are
/// exhaustive switches, so a new outcome that either side does not handle does not compile.
/// </summary>
public enum Outcome
{
    Success,
    CircularDependency,
    UseChangeRequired,
    KeywordChangeRequired,
    MaskedPackage,
    LicenseRequired,
    SlotConflict,
    Blocker,
    UnknownAtom,
    FetchFailure,
    BuildFailure,

    /// <summary>A package could not be signed or verified, or the signing key could not be imported.</summary>
    SigningFailure,

    /// <summary>A repository could not be synced.</summary>
    SyncFailure,

    Interrupted,
    Unknown,
}

/// <summary>The meaning of the agent's exit code, carried in the report too.</summary>
public enum AgentResult
{
    Success,
    NeedsOperator,
    Transient,
    AgentError,
}

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

    public static int Of(AgentResult result) => result switch
    {
        AgentResult.Success => Success,
        AgentResult.NeedsOperator => NeedsOperator,
        AgentResult.Transient => Transient,
        AgentResult.AgentError => AgentError,
    };
}
