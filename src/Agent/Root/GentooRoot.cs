using System.Diagnostics;

namespace Gentoo.Agent.Root;

/// <summary>The volumes a build pod mounts, bound into the Gentoo root at Portage's paths.</summary>
public sealed record RootVolumes(string? Binpkgs, string? Distfiles, string? Repos);

/// <summary>
/// Makes the root volume a usable Gentoo root: fills it once from the stage3 image's filesystem when asked to (a marker
/// file records from where, when and by which step, and that it is complete, so an interrupted copy starts over), then mounts what a chroot needs (proc, sys,
/// dev with pts and shm, resolv.conf) and binds the binary package, source archive and repository volumes at
/// PKGDIR, DISTDIR and /var/db/repos. Everything mounted is unmounted on dispose.
/// </summary>
public sealed class GentooRoot(string root, Action<string> say) : IDisposable
{
    public const string Marker = ".gentoo-builder-root";

    private readonly List<string> mounted = [];

    public string Path { get; } = root;

    /// <summary>
    /// Makes sure the root holds a Gentoo system: one filled earlier (the marker), one restored from a snapshot or
    /// copied from a bootstrap, or, only when <paramref name="source"/> is given, the stage3 container's own / copied in
    /// once. An empty root without a source is refused: copying whatever filesystem the agent runs in would be a guess.
    /// </summary>
    public void EnsurePopulated(string? source, string step, DateTimeOffset now)
    {
        var marker = System.IO.Path.Combine(Path, Marker);
        if (File.Exists(marker))
        {
            return;
        }

        if (File.Exists(System.IO.Path.Combine(Path, "etc", "gentoo-release")) && Directory.Exists(System.IO.Path.Combine(Path, "var", "db", "pkg")))
        {
            // Restored from a snapshot or a clone: already a Gentoo system.
            File.WriteAllText(marker, $"found a Gentoo system in place ({step}, {now:O})\n");
            return;
        }

        if (source is null)
        {
            throw new UsageException(
                $"the root volume {Path} holds no Gentoo system (no {Marker}, /etc/gentoo-release or /var/db/pkg): a builder's root comes from its bootstrap's snapshot or copy, and only a bootstrap fills an empty root from its stage3 (--populate-from); nothing was copied");
        }

        say($">>> gentoo-builder: unpacking the stage3 filesystem from {source} into {Path} (once)");
        // GNU tar as every stage3 has it: stays on one filesystem (no /proc, /sys, /dev or mounted volumes), keeps
        // owners, permissions and extended attributes (file capabilities).
        var script = "tar --one-file-system --numeric-owner --xattrs --xattrs-include='*' -C \"$1\" -cf - . | tar --numeric-owner --xattrs --xattrs-include='*' -C \"$2\" -xpf -";
        Run("/bin/sh", ["-c", script, "copy-root", source, Path], $"copying {source} into the root volume");
        foreach (var directory in new[] { "proc", "sys", "dev", "run", "tmp", "var/tmp" })
        {
            Directory.CreateDirectory(System.IO.Path.Combine(Path, directory));
        }

        File.WriteAllText(marker, $"unpacked from {source} ({step}, {now:O})\n");
    }

    /// <summary>Mounts proc, sys, dev and the volumes; copies resolv.conf so the chroot resolves names.</summary>
    public void Mount(RootVolumes volumes)
    {
        Bind("proc", "proc", ["-t", "proc", "proc"]);
        Bind("/sys", "sys", ["--rbind"]);
        Bind("/dev", "dev", ["--rbind"]);
        if (volumes.Binpkgs is not null)
        {
            Bind(volumes.Binpkgs, "var/cache/binpkgs", ["--bind"]);
        }

        if (volumes.Distfiles is not null)
        {
            Bind(volumes.Distfiles, "var/cache/distfiles", ["--bind"]);
        }

        if (volumes.Repos is not null)
        {
            Bind(volumes.Repos, "var/db/repos", ["--bind"]);
        }

        if (File.Exists("/etc/resolv.conf"))
        {
            var resolv = System.IO.Path.Combine(Path, "etc", "resolv.conf");
            Directory.CreateDirectory(System.IO.Path.GetDirectoryName(resolv)!);
            if (new FileInfo(resolv).LinkTarget is not null)
            {
                File.Delete(resolv); // a stage3 may link it to a resolver that does not run in a chroot
            }

            File.Copy("/etc/resolv.conf", resolv, overwrite: true);
        }
    }

    /// <summary>
    /// A memory-backed directory in the root, gone when the pod ends: for what must never reach the root volume (and so
    /// its snapshots), such as the signing key. Anyone may enter it, since Portage verifies packages as an unprivileged
    /// user with a keyring kept there; what is secret lives in a 0700 directory of its own inside.
    /// </summary>
    public string MountMemory(string target)
    {
        Bind("tmpfs", target, ["-t", "tmpfs", "-o", "mode=0755", "tmpfs"]);
        return System.IO.Path.Combine(Path, target);
    }

    private void Bind(string source, string target, string[] how)
    {
        var path = System.IO.Path.Combine(Path, target);
        if (how[0] != "-t" && !Directory.Exists(source))
        {
            throw new UsageException($"volume {source} is missing: it should be mounted there to be bound at /{target}");
        }

        Directory.CreateDirectory(path);
        Run("mount", how[0] == "-t" ? [.. how, path] : [.. how, source, path], $"mounting {source} at {path}");
        mounted.Add(path);
    }

    public void Dispose()
    {
        foreach (var path in Enumerable.Reverse(mounted))
        {
            // Recursive and lazy: a process still holding /dev (emerge's leftovers) must not keep the pod from ending.
            RunQuietly("umount", ["-R", "-l", path]);
        }

        mounted.Clear();
    }

    private static void Run(string file, IReadOnlyList<string> args, string what)
    {
        var (code, error) = RunQuietly(file, args);
        if (code != 0)
        {
            throw new IOException($"{what} failed (exit {code}): {error.Trim()}");
        }
    }

    private static (int Code, string Error) RunQuietly(string file, IReadOnlyList<string> args)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start) ?? throw new IOException($"could not start {file}");
        var error = process.StandardError.ReadToEndAsync();
        process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, error.Result);
    }
}
