using System.Buffers.Binary;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;

// git names objects and checks packs with SHA-1: the format, not a choice of ours.
#pragma warning disable CA5350

namespace Gentoo.Portage.Releases;

/// <summary>The kinds of git object a snapshot is made of, numbered as in a pack.</summary>
public enum GitObjectKind
{
    Commit = 1,
    Tree = 2,
    Blob = 3,
}

/// <summary>
/// A bare git repository that holds its objects only in packs, written here, with no refs on disk: the binhost makes
/// info/refs and HEAD for whichever release is asked for, and git's "dumb" HTTP transport fetches the rest as plain
/// files (objects/info/packs, the packs and their indexes). Every object is stored once however many releases hold it,
/// so a release adds only what changed in the repository since the one before.
/// </summary>
public sealed class GitPackStore
{
    private readonly HashSet<string> known = new(StringComparer.Ordinal);

    public GitPackStore(string directory)
    {
        Directory = directory;
        System.IO.Directory.CreateDirectory(PackDirectory);
        System.IO.Directory.CreateDirectory(Path.Combine(directory, "objects", "info"));
        // What makes git itself take the directory for a repository (to inspect it); clients get refs from the binhost.
        System.IO.Directory.CreateDirectory(Path.Combine(directory, "refs"));
        if (!File.Exists(Path.Combine(directory, "HEAD")))
        {
            File.WriteAllText(Path.Combine(directory, "HEAD"), "ref: refs/heads/main\n");
        }

        foreach (var index in System.IO.Directory.EnumerateFiles(PackDirectory, "pack-*.idx"))
        {
            foreach (var id in PackIndex.ReadIds(index))
            {
                known.Add(id);
            }
        }
    }

    public string Directory { get; }

    private string PackDirectory => Path.Combine(Directory, "objects", "pack");

    public bool Contains(string id) => known.Contains(id);

    /// <summary>The object id of <paramref name="content"/> as git computes it: SHA-1 of "KIND SIZE\0" and the bytes.</summary>
    public static string IdOf(GitObjectKind kind, ReadOnlySpan<byte> content)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA1);
        sha.AppendData(Encoding.ASCII.GetBytes($"{Name(kind)} {content.Length}\0"));
        sha.AppendData(content);
        return Convert.ToHexStringLower(sha.GetHashAndReset());
    }

    internal static string Name(GitObjectKind kind) => kind switch
    {
        GitObjectKind.Commit => "commit",
        GitObjectKind.Tree => "tree",
        _ => "blob",
    };

    /// <summary>Starts a pack for new objects; nothing is visible to readers until <see cref="PackWriter.Finish"/>.</summary>
    public PackWriter BeginPack() => new(this);

    /// <summary>Adds objects to a temporary pack; Finish writes the pack and its index under their final names and lists the pack.</summary>
    public sealed class PackWriter : IDisposable
    {
        private readonly GitPackStore store;
        private readonly string temporary;
        private readonly FileStream pack;
        private readonly List<(byte[] Id, uint Crc, long Offset)> entries = [];
        private readonly HashSet<string> added = new(StringComparer.Ordinal);
        private bool finished;

        internal PackWriter(GitPackStore store)
        {
            this.store = store;
            temporary = Path.Combine(store.PackDirectory, $"tmp-{Environment.ProcessId}-{Guid.NewGuid():N}.pack");
            pack = new FileStream(temporary, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None);
            Span<byte> header = stackalloc byte[12];
            "PACK"u8.CopyTo(header);
            BinaryPrimitives.WriteUInt32BigEndian(header[4..], 2);
            pack.Write(header); // the object count is written at the end
        }

        /// <summary>How many objects this pack holds so far.</summary>
        public int Count => entries.Count;

        /// <summary>Adds the object unless the store or this pack has it already; returns its id either way.</summary>
        public string Add(GitObjectKind kind, byte[] content)
        {
            var id = IdOf(kind, content);
            if (store.Contains(id) || !added.Add(id))
            {
                return id;
            }

            var offset = pack.Position;
            var buffer = new MemoryStream();
            var size = (long)content.Length;
            var first = (byte)(((int)kind << 4) | (int)(size & 0x0f));
            size >>= 4;
            while (size > 0)
            {
                buffer.WriteByte((byte)(first | 0x80));
                first = (byte)(size & 0x7f);
                size >>= 7;
            }

            buffer.WriteByte(first);
            using (var zlib = new ZLibStream(buffer, CompressionLevel.Optimal, leaveOpen: true))
            {
                zlib.Write(content);
            }

            var bytes = buffer.GetBuffer().AsSpan(0, (int)buffer.Length);
            pack.Write(bytes);
            entries.Add((Convert.FromHexString(id), Crc32.Of(bytes), offset));
            return id;
        }

        /// <summary>Writes the pack and its index (none when nothing was added) and lists it in objects/info/packs.</summary>
        public void Finish()
        {
            finished = true;
            if (entries.Count == 0)
            {
                pack.Dispose();
                File.Delete(temporary);
                return;
            }

            Span<byte> count = stackalloc byte[4];
            BinaryPrimitives.WriteUInt32BigEndian(count, (uint)entries.Count);
            pack.Position = 8;
            pack.Write(count);
            pack.Position = 0;
            var checksum = SHA1.HashData(pack);
            pack.Position = pack.Length;
            pack.Write(checksum);
            pack.Flush(flushToDisk: true);
            pack.Dispose();

            var name = "pack-" + Convert.ToHexStringLower(checksum);
            var indexTemporary = Path.Combine(store.PackDirectory, name + ".idx.tmp");
            File.WriteAllBytes(indexTemporary, PackIndex.Write(entries, checksum));
            // The pack first, then its index: a reader that finds the index finds the pack.
            File.Move(temporary, Path.Combine(store.PackDirectory, name + ".pack"), overwrite: true);
            File.Move(indexTemporary, Path.Combine(store.PackDirectory, name + ".idx"), overwrite: true);
            foreach (var (id, _, _) in entries)
            {
                store.known.Add(Convert.ToHexStringLower(id));
            }

            var packs = System.IO.Directory.EnumerateFiles(store.PackDirectory, "pack-*.pack").Select(Path.GetFileName).Order(StringComparer.Ordinal);
            var listing = Path.Combine(store.Directory, "objects", "info", "packs");
            File.WriteAllText(listing + ".tmp", string.Concat(packs.Select(p => $"P {p}\n")) + "\n");
            File.Move(listing + ".tmp", listing, overwrite: true);
        }

        public void Dispose()
        {
            if (!finished)
            {
                pack.Dispose();
                File.Delete(temporary);
            }
        }
    }
}

/// <summary>Version 2 pack indexes (.idx): the sorted object ids of a pack with each object's CRC-32 and offset.</summary>
internal static class PackIndex
{
    private static ReadOnlySpan<byte> Magic => [0xff, 0x74, 0x4f, 0x63, 0, 0, 0, 2];

    public static byte[] Write(List<(byte[] Id, uint Crc, long Offset)> entries, byte[] packChecksum)
    {
        var sorted = entries.OrderBy(e => e.Id, ByteOrder.Instance).ToList();
        var output = new MemoryStream();
        output.Write(Magic);
        Span<byte> word = stackalloc byte[4];
        Span<byte> wide = stackalloc byte[8];
        var byFirstByte = new uint[256];
        foreach (var entry in sorted)
        {
            byFirstByte[entry.Id[0]]++;
        }

        var upTo = 0u;
        foreach (var count in byFirstByte)
        {
            upTo += count;
            BinaryPrimitives.WriteUInt32BigEndian(word, upTo);
            output.Write(word);
        }

        foreach (var entry in sorted)
        {
            output.Write(entry.Id);
        }

        foreach (var entry in sorted)
        {
            BinaryPrimitives.WriteUInt32BigEndian(word, entry.Crc);
            output.Write(word);
        }

        var large = sorted.Where(e => e.Offset >= 0x80000000L).Select(e => e.Offset).ToList();
        foreach (var entry in sorted)
        {
            var value = entry.Offset < 0x80000000L ? (uint)entry.Offset : 0x80000000u | (uint)large.IndexOf(entry.Offset);
            BinaryPrimitives.WriteUInt32BigEndian(word, value);
            output.Write(word);
        }

        foreach (var offset in large)
        {
            BinaryPrimitives.WriteUInt64BigEndian(wide, (ulong)offset);
            output.Write(wide);
        }

        output.Write(packChecksum);
        output.Write(SHA1.HashData(output.GetBuffer().AsSpan(0, (int)output.Length)));
        return output.ToArray();
    }

    public static IEnumerable<string> ReadIds(string path)
    {
        var bytes = File.ReadAllBytes(path);
        if (bytes.Length < 8 + 1024 || !bytes.AsSpan(0, 8).SequenceEqual(Magic))
        {
            throw new InvalidDataException($"{path} is not a version 2 git pack index");
        }

        var count = (int)BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(8 + (255 * 4)));
        var names = 8 + 1024;
        if (bytes.Length < names + ((long)count * 20))
        {
            throw new InvalidDataException($"{path} is cut short");
        }

        return Enumerable.Range(0, count).Select(i => Convert.ToHexStringLower(bytes, names + (i * 20), 20));
    }

    private sealed class ByteOrder : IComparer<byte[]>
    {
        public static readonly ByteOrder Instance = new();

        public int Compare(byte[]? x, byte[]? y) => x.AsSpan().SequenceCompareTo(y);
    }
}

/// <summary>CRC-32 (IEEE 802.3, as zlib computes it), which pack indexes keep for each packed object.</summary>
internal static class Crc32
{
    private static readonly uint[] Table = MakeTable();

    public static uint Of(ReadOnlySpan<byte> data)
    {
        var crc = 0xffffffffu;
        foreach (var b in data)
        {
            crc = Table[(crc ^ b) & 0xff] ^ (crc >> 8);
        }

        return ~crc;
    }

    private static uint[] MakeTable()
    {
        var table = new uint[256];
        for (var n = 0u; n < 256; n++)
        {
            var c = n;
            for (var k = 0; k < 8; k++)
            {
                c = (c & 1) != 0 ? 0xedb88320u ^ (c >> 1) : c >> 1;
            }

            table[n] = c;
        }

        return table;
    }
}
