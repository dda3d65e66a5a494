using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Gentoo.Binhost;

/// <summary>
/// A number that moves whenever anything under a directory tree may have changed, so that what was computed from the
/// tree can be kept until then. On a filesystem whose every writer is this machine's kernel (ext4, xfs, btrfs, tmpfs,
/// overlay: a node's local volume, whichever pod writes it) the number comes from inotify, whose events are queued
/// before the writer's system call returns: asked after a package was written, it has already moved. Where writes can
/// come from other machines without an event here (NFS, CIFS, Ceph, FUSE, cluster filesystems) or inotify cannot
/// watch (its limits), it moves on every ask, and callers look at the tree each time as before.
/// </summary>
public sealed partial class TreeChanges : IDisposable
{
    private const int NonBlocking = 0x800;
    private const int CloseOnExec = 0x80000;
    private const int WouldBlock = 11;
    private const uint Modified = 0x2, Attributes = 0x4, ClosedAfterWrite = 0x8, MovedFrom = 0x40, MovedTo = 0x80,
        Created = 0x100, Deleted = 0x200, SelfDeleted = 0x400, SelfMoved = 0x800, OnlyDirectory = 0x01000000,
        DoNotFollow = 0x02000000, Overflowed = 0x4000, Ignored = 0x8000, IsDirectory = 0x40000000;
    private const uint Watched = Modified | Attributes | ClosedAfterWrite | MovedFrom | MovedTo | Created | Deleted | SelfDeleted
        | SelfMoved | OnlyDirectory | DoNotFollow;

    // statfs f_type of filesystems another machine can write to without this kernel knowing.
    private static readonly HashSet<long> SharedFilesystems =
    [
        0x6969, // NFS
        0x517B, // SMB
        0xFF534D42, // CIFS
        0xFE534D42, // SMB2
        0x00C36400, // Ceph
        0x65735546, // FUSE (GlusterFS, s3fs, sshfs, ...)
        0x01021997, // 9p
        0x5346414F, // AFS
        0x7461636F, // OCFS2
        0x01161970, // GFS2
        0x47504653, // GPFS
        0x0BD00BD0, // Lustre
    ];

    private readonly Lock gate = new();
    private readonly Dictionary<int, string> directories = [];
    private readonly byte[] events = new byte[64 * 1024];
    private readonly string root;
    private Inotify? descriptor;
    private long generation;

    public TreeChanges(string root)
    {
        this.root = root;
        Reason = Watch();
        if (Reason is not null)
        {
            GiveUp();
        }
    }

    /// <summary>True when changes are known from inotify; false when every ask is a change.</summary>
    public bool Watching => descriptor is not null;

    /// <summary>Why the tree is not watched (null when it is).</summary>
    public string? Reason { get; }

    /// <summary>The number now: the same as at an earlier ask only if nothing under the tree changed since.</summary>
    public long Current()
    {
        lock (gate)
        {
            while (descriptor is not null)
            {
                var read = Read(descriptor, events, events.Length);
                if (read <= 0)
                {
                    if (read == 0 || Marshal.GetLastPInvokeError() == WouldBlock)
                    {
                        return generation; // nothing happened since the last ask
                    }

                    GiveUp(); // the descriptor failed: trust nothing from now on
                    break;
                }

                generation++;
                Consume(events.AsSpan(0, (int)read));
            }

            return ++generation;
        }
    }

    public void Dispose()
    {
        lock (gate)
        {
            GiveUp();
        }
    }

    private string? Watch()
    {
        var status = new byte[256];
        if (StatFs(root, status) != 0)
        {
            return $"statfs {root} failed (errno {Marshal.GetLastPInvokeError()})";
        }

        var type = BinaryPrimitives.ReadInt64LittleEndian(status) & 0xFFFFFFFF;
        if (SharedFilesystems.Contains(type))
        {
            return $"{root} is on a filesystem other machines write to (type 0x{type:x}): inotify would not see their writes";
        }

        descriptor = InotifyInit(NonBlocking | CloseOnExec);
        if (descriptor.IsInvalid)
        {
            return $"inotify_init1 failed (errno {Marshal.GetLastPInvokeError()})";
        }

        return WatchRoot();
    }

    private string? WatchRoot()
    {
        // The PKGDIR itself may be a symbolic link (to a bigger disk): watch where it leads, since inotify is told not to
        // follow links (a link inside the tree is not the tree's).
        var resolved = Directory.ResolveLinkTarget(root, returnFinalTarget: true)?.FullName ?? root;
        var wd = AddWatch(descriptor!, resolved, Watched);
        if (wd < 0)
        {
            return $"inotify_add_watch {resolved} failed (errno {Marshal.GetLastPInvokeError()})";
        }

        directories[wd] = resolved;
        return AddChildren(resolved);
    }

    /// <summary>Watches a directory and every directory under it (symbolic links are not followed).</summary>
    private string? AddTree(string directory)
    {
        var wd = AddWatch(descriptor!, directory, Watched);
        if (wd < 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            // A directory gone or replaced meanwhile: its parent's event already moved the number. One this process may
            // not read (a root-only lost+found): nothing in it is served; a change of its mode is its parent's event,
            // and then it is tried again.
            return errno is 2 or 13 or 20 ? null : $"inotify_add_watch {directory} failed (errno {errno}; fs.inotify.max_user_watches?)";
        }

        directories[wd] = directory;
        return AddChildren(directory);
    }

    private string? AddChildren(string directory)
    {
        try
        {
            var children = Directory.EnumerateDirectories(directory, "*", new EnumerationOptions { AttributesToSkip = FileAttributes.ReparsePoint, IgnoreInaccessible = true });
            foreach (var child in children)
            {
                if (AddTree(child) is { } failure)
                {
                    return failure;
                }
            }
        }
        catch (DirectoryNotFoundException)
        {
            // Removed while being walked: its removal is an event of its parent.
        }

        return null;
    }

    /// <summary>Follows new directories (a new category or package) and drops removed ones.</summary>
    private void Consume(ReadOnlySpan<byte> buffer)
    {
        while (buffer.Length >= 16)
        {
            var wd = BinaryPrimitives.ReadInt32LittleEndian(buffer);
            var mask = BinaryPrimitives.ReadUInt32LittleEndian(buffer[4..]);
            var length = (int)BinaryPrimitives.ReadUInt32LittleEndian(buffer[12..]);
            var name = buffer.Slice(16, length);
            var end = name.IndexOf((byte)0);
            var entry = System.Text.Encoding.UTF8.GetString(end < 0 ? name : name[..end]);
            buffer = buffer[(16 + length)..];
            if ((mask & Overflowed) != 0)
            {
                // Events were lost: any directory may have appeared meanwhile. Watch the tree again.
                RewatchAll();
                return;
            }

            if ((mask & Ignored) != 0)
            {
                directories.Remove(wd);
            }
            else if ((mask & IsDirectory) != 0 && (mask & (Created | MovedTo | Attributes)) != 0 && directories.TryGetValue(wd, out var parent)
                && AddTree(Path.Combine(parent, entry)) is not null)
            {
                GiveUp();
                return;
            }
        }
    }

    private void RewatchAll()
    {
        foreach (var wd in directories.Keys)
        {
            _ = RemoveWatch(descriptor!, wd);
        }

        directories.Clear();
        if (WatchRoot() is not null)
        {
            GiveUp();
        }
    }

    private void GiveUp()
    {
        descriptor?.Dispose();
        descriptor = null;
    }

    [LibraryImport("libc", EntryPoint = "inotify_init1", SetLastError = true)]
    private static partial Inotify InotifyInit(int flags);

    [LibraryImport("libc", EntryPoint = "inotify_add_watch", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int AddWatch(Inotify descriptor, string path, uint mask);

    [LibraryImport("libc", EntryPoint = "inotify_rm_watch")]
    private static partial int RemoveWatch(Inotify descriptor, int wd);

    [LibraryImport("libc", EntryPoint = "read", SetLastError = true)]
    private static partial nint Read(Inotify descriptor, [Out] byte[] buffer, nint count);

    [LibraryImport("libc", EntryPoint = "statfs", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int StatFs(string path, [Out] byte[] buffer);

    [LibraryImport("libc", EntryPoint = "close")]
    private static partial int Close(nint descriptor);

    /// <summary>An inotify descriptor, closed when disposed or, failing that, when collected.</summary>
    private sealed class Inotify() : SafeHandleZeroOrMinusOneIsInvalid(ownsHandle: true)
    {
        protected override bool ReleaseHandle() => TreeChanges.Close(handle) == 0;
    }
}
