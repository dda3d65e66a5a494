namespace Gentoo.Protocol;

/// <summary>The values of the agent pod's status.phase, as the kubelet writes them (the client library has no constants for them).</summary>
public static class PodPhases
{
    public const string Pending = "Pending";
    public const string Running = "Running";
    public const string Succeeded = "Succeeded";
    public const string Failed = "Failed";

    /// <summary>The node stopped reporting; also what a pod that is gone is judged as.</summary>
    public const string Unknown = "Unknown";

    /// <summary>Succeeded or Failed: its containers will not run again.</summary>
    public static bool HasEnded(string? phase) => phase is Succeeded or Failed;
}
