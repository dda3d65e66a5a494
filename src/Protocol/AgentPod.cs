using System.Collections.Frozen;

namespace Gentoo.Protocol;

/// <summary>Where things are in an agent pod: the names the operator gives, the agent reads and kubectl gentoo uses.</summary>
public static class AgentPod
{
    /// <summary>The container that runs the agent (logs, exec, the termination report).</summary>
    public const string Container = "build";

    /// <summary>The root volume: the Gentoo system builds run in (chroot target).</summary>
    public const string RootMount = "/mnt/gentoo";

    /// <summary>The binary package volume, bound at PKGDIR inside the root.</summary>
    public const string BinpkgsMount = "/mnt/binpkgs";

    /// <summary>The source archive volume, bound at DISTDIR inside the root.</summary>
    public const string DistfilesMount = "/mnt/distfiles";

    /// <summary>The desired Portage configuration (a mounted ConfigMap, one file per key).</summary>
    public const string ConfigMount = "/etc/gentoo-builder/config";

    /// <summary>Where the init container puts the agent for the Gentoo container to run.</summary>
    public const string AgentDirectory = "/gentoo-builder/bin";

    /// <summary>The agent inside the operator image.</summary>
    public const string AgentInImage = "/opt/gentoo-builder/gentoo-agent";

    /// <summary>The container's terminationMessagePath, where the agent writes its compact report.</summary>
    public const string TerminationLog = "/dev/termination-log";

    /// <summary>
    /// The GC settings the agent's container runs with, the native operator's (compiled into it, see Operator.csproj): a gen0
    /// budget of 4 MB that grows to 6 MB at most. By default .NET sizes it from the CPU's cache, and the lines the
    /// classifier decodes filled it: classifying 200 MB of emerge output added 32 MB on a machine with a 32 MB cache,
    /// 20 MB with these, at the same speed (bench/PortageBench). The JIT-compiled agent reads them from its environment
    /// only; it takes them out of the environment of what it runs (emerge may build .NET programs, which get .NET's own).
    /// </summary>
    public static readonly FrozenDictionary<string, string> RuntimeEnvironment = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["DOTNET_GCgen0size"] = "0x400000",
        ["DOTNET_GCGen0MaxBudget"] = "0x600000",
    }.ToFrozenDictionary(StringComparer.Ordinal);
}
