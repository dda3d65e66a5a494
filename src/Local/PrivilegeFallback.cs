using System.Globalization;

namespace Gentoo.Local;

/// <summary>
/// A Docker engine that runs with fewer capabilities than the kernel has (inside a container, or in a restricted VM)
/// cannot start a privileged container: runc cannot apply the capabilities it lacks. There, a privileged pod runs with
/// every capability the engine's bounding set holds, unconfined by seccomp, AppArmor and SELinux, with /proc and /sys
/// unmasked: what the builds use privilege for (mounting /proc, /sys and /dev into the chroot) works; local mode logs it once.
/// </summary>
public static class PrivilegeFallback
{
    /// <summary>
    /// Linux capabilities by number (linux/capability.h), as Docker names them, up to AUDIT_READ: the later three (PERFMON,
    /// BPF, CHECKPOINT_RESTORE) are unknown to engines before 20.10's successors, which refuse the whole container for them,
    /// and no build needs them.
    /// </summary>
    private static readonly string[] Names =
    [
        "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID", "SETPCAP", "LINUX_IMMUTABLE",
        "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW", "IPC_LOCK", "IPC_OWNER", "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT",
        "SYS_PTRACE", "SYS_PACCT", "SYS_ADMIN", "SYS_BOOT", "SYS_NICE", "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD", "LEASE",
        "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ",
    ];

    /// <summary>The security options of the reduced form; /proc and /sys are unmasked by empty masked and read-only path lists (the CLI's systempaths=unconfined).</summary>
    public static readonly IReadOnlyList<string> SecurityOptions = ["seccomp=unconfined", "apparmor=unconfined", "label=disable"];

    /// <summary>Whether the engine refused a container because it could not apply its capabilities.</summary>
    public static bool IsCapabilityRefusal(string message) => message.Contains("unable to apply caps", StringComparison.OrdinalIgnoreCase);

    /// <summary>The names of the capabilities in a bounding set (the CapBnd mask of /proc/PID/status).</summary>
    public static IReadOnlyList<string> Capabilities(ulong boundingSet) =>
        [.. Names.Where((_, bit) => (boundingSet & (1UL << bit)) != 0)];

    /// <summary>
    /// The bounding set this process runs with, standing for the engine's: local mode runs beside its Docker engine, inside
    /// the same container or VM. Null where it cannot be read.
    /// </summary>
    public static ulong? BoundingSetOfThisProcess()
    {
        const string field = "CapBnd:";
        var line = File.Exists("/proc/self/status") ? File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith(field, StringComparison.Ordinal)) : null;
        return line is not null && ulong.TryParse(line[field.Length..].Trim(), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var mask) ? mask : null;
    }
}
