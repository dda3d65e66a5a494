using System.Buffers;
using System.Buffers.Binary;
using Gentoo.Portage.Kernels;
using Microsoft.Win32.SafeHandles;

namespace Gentoo.Portage.Elf;

/// <summary>What one file says about the kernel it needs.</summary>
public sealed record ElfNoteResult(string Path, bool IsElf, string? Os, KernelVersion? Abi, string? Error)
{
    /// <summary>The minimum Linux kernel, when the file carries a Linux ABI tag.</summary>
    public KernelVersion? LinuxAbi => Os == "Linux" ? Abi : null;
}

/// <summary>
/// Reads the GNU ABI tag note (NT_GNU_ABI_TAG, what readelf -n shows as "OS: Linux, ABI: 3.17.0") from ELF files:
/// 32 and 64 bit, little and big endian, through section headers or, when those are stripped, program headers.
/// Truncated and corrupt files are reported, never thrown. A file costs a handful of reads: the header, each header
/// table in one piece (in 64 KiB pieces when larger), and the note areas.
/// </summary>
public static class ElfAbiTag
{
    private const uint NtGnuAbiTag = 1;
    private const uint ShtNote = 7;
    private const uint PtNote = 4;
    private const int MaxNoteBytes = 1 << 20;
    private const int TablePieceBytes = 64 * 1024;
    private static readonly string[] OsNames = ["Linux", "Hurd", "Solaris", "FreeBSD", "NetBSD", "Syllable"];

    public static ElfNoteResult Read(string path)
    {
        try
        {
            using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.RandomAccess);
            return Read(path, new HandleSource(handle));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return new ElfNoteResult(path, false, null, null, $"cannot read: {e.Message}");
        }
    }

    public static ElfNoteResult Read(string path, Stream file) => Read(path, new StreamSource(file));

    private static ElfNoteResult Read(string path, Source file)
    {
        Span<byte> ident = stackalloc byte[64];
        var headerLength = file.ReadAt(0, ident);
        if (headerLength < 4 || ident[0] != 0x7f || ident[1] != (byte)'E' || ident[2] != (byte)'L' || ident[3] != (byte)'F')
        {
            return new ElfNoteResult(path, false, null, null, null);
        }

        if (headerLength < 52)
        {
            return Corrupt(path, "truncated ELF header");
        }

        var is64 = ident[4] switch
        {
            1 => false,
            2 => true,
            _ => (bool?)null,
        };
        var bigEndian = ident[5] switch
        {
            1 => false,
            2 => true,
            _ => (bool?)null,
        };
        if (is64 is null || bigEndian is null)
        {
            return Corrupt(path, $"unknown ELF class {ident[4]} or data encoding {ident[5]}");
        }

        if (is64.Value && headerLength < 64)
        {
            return Corrupt(path, "truncated ELF64 header");
        }

        var reader = new Fields(bigEndian.Value);
        ulong shoff, phoff;
        int shentsize, shnum, phentsize, phnum;
        if (is64.Value)
        {
            phoff = reader.U64(ident[32..]);
            shoff = reader.U64(ident[40..]);
            phentsize = reader.U16(ident[54..]);
            phnum = reader.U16(ident[56..]);
            shentsize = reader.U16(ident[58..]);
            shnum = reader.U16(ident[60..]);
        }
        else
        {
            phoff = reader.U32(ident[28..]);
            shoff = reader.U32(ident[32..]);
            phentsize = reader.U16(ident[42..]);
            phnum = reader.U16(ident[44..]);
            shentsize = reader.U16(ident[46..]);
            shnum = reader.U16(ident[48..]);
        }

        var notes = new List<(ulong Offset, ulong Size)>(4);
        string? structureError = null;
        if (shoff != 0 && shnum > 0)
        {
            structureError = CollectNotes(file, reader, is64.Value, shoff, shentsize, shnum, section: true, notes);
        }

        if (notes.Count == 0 && phoff != 0 && phnum > 0)
        {
            structureError = CollectNotes(file, reader, is64.Value, phoff, phentsize, phnum, section: false, notes) ?? structureError;
        }

        foreach (var (offset, size) in notes)
        {
            if (size > MaxNoteBytes || offset + size > (ulong)file.Length)
            {
                structureError ??= $"note at offset {offset} of {size} bytes lies outside the file";
                continue;
            }

            var rented = ArrayPool<byte>.Shared.Rent((int)size);
            try
            {
                var area = rented.AsSpan(0, (int)size);
                if (file.ReadAt((long)offset, area) < area.Length)
                {
                    structureError ??= "truncated note";
                    continue;
                }

                if (FindAbiTag(area, reader) is { } tag)
                {
                    // A damaged file may still carry a readable tag: report both.
                    return new ElfNoteResult(path, true, tag.Os, tag.Abi, structureError);
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }

        return new ElfNoteResult(path, true, null, null, structureError);
    }

    private static string? CollectNotes(Source file, Fields reader, bool is64, ulong tableOffset, int entrySize, int count, bool section, List<(ulong, ulong)> notes)
    {
        var minimum = section ? (is64 ? 64 : 40) : (is64 ? 56 : 32);
        if (entrySize < minimum)
        {
            return $"{(section ? "section" : "program")} header entries of {entrySize} bytes are too small";
        }

        if (tableOffset + ((ulong)entrySize * (ulong)count) > (ulong)file.Length)
        {
            return $"{(section ? "section" : "program")} header table lies outside the file (truncated?)";
        }

        var perPiece = Math.Max(1, TablePieceBytes / entrySize);
        var rented = ArrayPool<byte>.Shared.Rent(Math.Min(count, perPiece) * entrySize);
        try
        {
            for (var first = 0; first < count; first += perPiece)
            {
                var entries = Math.Min(perPiece, count - first);
                var piece = rented.AsSpan(0, entries * entrySize);
                file.ReadAt((long)tableOffset + ((long)first * entrySize), piece);
                for (var i = 0; i < entries; i++)
                {
                    var entry = piece.Slice(i * entrySize, entrySize);
                    if (section)
                    {
                        if (reader.U32(entry[4..]) == ShtNote)
                        {
                            notes.Add(is64 ? (reader.U64(entry[24..]), reader.U64(entry[32..])) : (reader.U32(entry[16..]), reader.U32(entry[20..])));
                        }
                    }
                    else if (reader.U32(entry) == PtNote)
                    {
                        notes.Add(is64 ? (reader.U64(entry[8..]), reader.U64(entry[32..])) : (reader.U32(entry[4..]), reader.U32(entry[16..])));
                    }
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }

        return null;
    }

    /// <summary>Walks the notes of one note area: namesz, descsz, type, name (4-byte aligned), desc (4-byte aligned).</summary>
    private static (string Os, KernelVersion Abi)? FindAbiTag(ReadOnlySpan<byte> area, Fields reader)
    {
        var position = 0;
        while (position + 12 <= area.Length)
        {
            var nameSize = reader.U32(area[position..]);
            var descSize = reader.U32(area[(position + 4)..]);
            var type = reader.U32(area[(position + 8)..]);
            var nameStart = position + 12;
            var descStart = nameStart + (int)Align4(nameSize);
            var next = descStart + (long)Align4(descSize);
            if (nameSize > (uint)area.Length || descSize > (uint)area.Length || next > area.Length)
            {
                return null;
            }

            if (type == NtGnuAbiTag && nameSize == 4 && area.Slice(nameStart, 4).SequenceEqual("GNU\0"u8) && descSize >= 16)
            {
                var desc = area.Slice(descStart, 16);
                var os = reader.U32(desc);
                var version = new KernelVersion((int)Math.Min(reader.U32(desc[4..]), int.MaxValue), (int)Math.Min(reader.U32(desc[8..]), int.MaxValue), (int)Math.Min(reader.U32(desc[12..]), int.MaxValue));
                return (os < OsNames.Length ? OsNames[os] : $"OS {os}", version);
            }

            position = (int)next;
        }

        return null;
    }

    private static uint Align4(uint value) => (value + 3u) & ~3u;

    /// <summary>The bytes of one file, read at offsets; the length is looked up once.</summary>
    private abstract class Source
    {
        public abstract long Length { get; }

        /// <summary>Fills <paramref name="buffer"/> from <paramref name="offset"/>; fewer bytes at the end of the file.</summary>
        public int ReadAt(long offset, Span<byte> buffer)
        {
            if (offset < 0 || offset >= Length)
            {
                return 0;
            }

            var total = 0;
            while (total < buffer.Length)
            {
                var read = Read(offset + total, buffer[total..]);
                if (read == 0)
                {
                    break;
                }

                total += read;
            }

            return total;
        }

        protected abstract int Read(long offset, Span<byte> buffer);
    }

    private sealed class HandleSource(SafeFileHandle handle) : Source
    {
        public override long Length { get; } = RandomAccess.GetLength(handle);

        protected override int Read(long offset, Span<byte> buffer) => RandomAccess.Read(handle, buffer, offset);
    }

    private sealed class StreamSource(Stream stream) : Source
    {
        public override long Length { get; } = stream.Length;

        protected override int Read(long offset, Span<byte> buffer)
        {
            stream.Position = offset;
            return stream.Read(buffer);
        }
    }

    private static ElfNoteResult Corrupt(string path, string error) => new(path, true, null, null, error);

    private readonly struct Fields(bool bigEndian)
    {
        public ushort U16(ReadOnlySpan<byte> data) => bigEndian ? BinaryPrimitives.ReadUInt16BigEndian(data) : BinaryPrimitives.ReadUInt16LittleEndian(data);

        public uint U32(ReadOnlySpan<byte> data) => bigEndian ? BinaryPrimitives.ReadUInt32BigEndian(data) : BinaryPrimitives.ReadUInt32LittleEndian(data);

        public ulong U64(ReadOnlySpan<byte> data) => bigEndian ? BinaryPrimitives.ReadUInt64BigEndian(data) : BinaryPrimitives.ReadUInt64LittleEndian(data);
    }
}

/// <summary>The highest kernel a set of files requires, and which files require it.</summary>
public sealed record KernelRequirementReport(KernelVersion? Required, IReadOnlyList<ElfNoteResult> Files, IReadOnlyList<string> Errors)
{
    /// <summary>The files whose ABI tag equals the requirement.</summary>
    public IEnumerable<ElfNoteResult> RequiringFiles => Files.Where(f => Required is not null && f.LinuxAbi == Required);
}

/// <summary>Scans files and directory trees (symbolic links are not followed) for ELF ABI tags.</summary>
public static class KernelRequirementScanner
{
    public static KernelRequirementReport Scan(IEnumerable<string> paths)
    {
        var files = new List<ElfNoteResult>();
        var errors = new List<string>();
        foreach (var path in paths)
        {
            // Each file is a few small reads that mostly wait on the disk: read many at once, reported in order.
            var results = Enumerate(path, errors).ToList().AsParallel().AsOrdered()
                .WithDegreeOfParallelism(Math.Max(2, Environment.ProcessorCount * 2)).Select(ElfAbiTag.Read).ToList();
            foreach (var result in results)
            {
                var file = result.Path;
                if (result.Error is not null)
                {
                    errors.Add($"{file}: {result.Error}");
                }

                if (result.IsElf)
                {
                    files.Add(result);
                }
            }
        }

        KernelVersion? required = null;
        foreach (var abi in files.Select(f => f.LinuxAbi).OfType<KernelVersion>())
        {
            required = required is null ? abi : KernelVersion.Max(required.Value, abi);
        }

        return new KernelRequirementReport(required, files, errors);
    }

    private static IEnumerable<string> Enumerate(string path, List<string> errors)
    {
        FileSystemInfo info = Directory.Exists(path) ? new DirectoryInfo(path) : new FileInfo(path);
        if (!info.Exists)
        {
            errors.Add($"{path}: no such file or directory");
            yield break;
        }

        if (info is FileInfo)
        {
            if (info.LinkTarget is null)
            {
                yield return path;
            }

            yield break;
        }

        var options = new EnumerationOptions { RecurseSubdirectories = true, IgnoreInaccessible = true, AttributesToSkip = FileAttributes.ReparsePoint };
        foreach (var file in Directory.EnumerateFiles(path, "*", options))
        {
            yield return file;
        }
    }
}
