using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using SharpCompress.Compressors.BZip2;
using SharpCompress.Compressors.Xz;
using ZstdSharp;

namespace Gentoo.Portage.Binhost;

/// <summary>The metadata of one GPKG binary package (.gpkg.tar) and facts about the file.</summary>
public sealed record GpkgInfo(
    string Path,
    IReadOnlyDictionary<string, string> Metadata,
    IReadOnlyList<string> Members,
    bool Signed,
    long Size,
    string Md5,
    string Sha1,
    DateTimeOffset Modified)
{
    public string? Category => Metadata.GetValueOrDefault("CATEGORY");

    public string? PackageFullName => Metadata.GetValueOrDefault("PF");

    public string? Cpv => Category is null || PackageFullName is null ? null : $"{Category}/{PackageFullName}";
}

/// <summary>
/// Reads GPKG binary packages: an uncompressed tar holding NAME/gpkg-1, NAME/metadata.tar.COMP, NAME/image.tar.COMP,
/// NAME/Manifest and, when signed, .sig files. The metadata tar holds one small file per variable (metadata/SLOT, ...).
/// </summary>
public static class Gpkg
{
    private const int MaxMetadataValue = 1 << 20;

    /// <summary>Variables read as text; binary members (environment.bz2) and the ebuild are skipped.</summary>
    private static bool IsTextVariable(string name) =>
        name.Length > 0 && name.All(c => char.IsAsciiLetterUpper(c) || char.IsAsciiDigit(c) || c is '_' or '.') || name == "repository";

    /// <summary>The endings of binary package files in a PKGDIR, newest format first.</summary>
    public static readonly string[] PackageFileEndings = [".gpkg.tar", ".tbz2", ".xpak"];

    /// <summary>
    /// category/name-version of a binary package file's path in a PKGDIR: CATEGORY/NAME/NAME-VERSION-BUILDID.gpkg.tar
    /// with binpkg-multi-instance, CATEGORY/NAME-VERSION.gpkg.tar without; null for any other path.
    /// </summary>
    public static string? CpvOfPath(string path)
    {
        var parts = path.Replace('\\', '/').Split('/', StringSplitOptions.RemoveEmptyEntries);
        var ending = parts.Length < 2 ? null : PackageFileEndings.FirstOrDefault(e => parts[^1].EndsWith(e, StringComparison.Ordinal));
        if (ending is null)
        {
            return null;
        }

        var stem = parts[^1][..^ending.Length];
        if (parts.Length >= 3 && stem.StartsWith(parts[^2] + "-", StringComparison.Ordinal) && stem.LastIndexOf('-') is var build and > 0
            && stem[(build + 1)..].All(char.IsAsciiDigit) && Atoms.Atom.SplitVersion(stem[..build]) is { } multi && multi.Name == parts[^2])
        {
            return $"{parts[^3]}/{stem[..build]}";
        }

        return Atoms.Atom.SplitVersion(stem) is not null ? $"{parts[^2]}/{stem}" : null;
    }

    public static GpkgInfo Read(string path)
    {
        var file = new FileInfo(path);
        using var stream = file.OpenRead();
        return Read(stream, path, new DateTimeOffset(file.LastWriteTimeUtc));
    }

    /// <summary>Reads a package from a stream; whatever is wrong with it is an <see cref="InvalidDataException"/> naming <paramref name="path"/>.</summary>
    public static GpkgInfo Read(Stream stream, string path, DateTimeOffset modified)
    {
        var (md5, sha1) = Checksums(stream);
        stream.Position = 0;
        var members = new List<string>();
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        var signed = false;
        try
        {
            using var tar = new TarReader(stream, leaveOpen: true);
            while (tar.GetNextEntry(copyData: false) is { } entry)
            {
                members.Add(entry.Name);
                signed |= entry.Name.EndsWith(".sig", StringComparison.Ordinal);
                var leaf = entry.Name[(entry.Name.LastIndexOf('/') + 1)..];
                if (leaf.StartsWith("metadata.tar", StringComparison.Ordinal) && !leaf.EndsWith(".sig", StringComparison.Ordinal) && entry.DataStream is not null)
                {
                    using var decompressed = Decompress(entry.DataStream, leaf);
                    ReadMetadata(decompressed, metadata);
                }
            }
        }
        catch (Exception e) when (e is not (InvalidDataException or OutOfMemoryException or OperationCanceledException))
        {
            // The tar reader and each decompressor have exceptions of their own for damaged input: one kind for callers.
            throw new InvalidDataException($"{path} is damaged: {e.Message}", e);
        }

        if (!members.Any(m => m.EndsWith("/gpkg-1", StringComparison.Ordinal)))
        {
            throw new InvalidDataException($"{path} is not a GPKG binary package: it has no gpkg-1 member");
        }

        return new GpkgInfo(path, metadata, members, signed, stream.Length, md5, sha1, modified);
    }

    /// <summary>The files of the image, for scanning (paths inside image.tar, such as "image/usr/bin/greeter").</summary>
    public static void ReadImage(string path, Action<string, Stream> onFile)
    {
        using var stream = File.OpenRead(path);
        using var tar = new TarReader(stream);
        while (tar.GetNextEntry(copyData: false) is { } entry)
        {
            var leaf = entry.Name[(entry.Name.LastIndexOf('/') + 1)..];
            if (leaf.StartsWith("image.tar", StringComparison.Ordinal) && !leaf.EndsWith(".sig", StringComparison.Ordinal) && entry.DataStream is not null)
            {
                using var decompressed = Decompress(entry.DataStream, leaf);
                using var image = new TarReader(decompressed);
                while (image.GetNextEntry(copyData: true) is { } file)
                {
                    if (file.EntryType is TarEntryType.RegularFile or TarEntryType.V7RegularFile && file.DataStream is not null)
                    {
                        onFile(file.Name, file.DataStream);
                    }
                }
            }
        }
    }

    private static Stream Decompress(Stream data, string name) => System.IO.Path.GetExtension(name) switch
    {
        ".zst" => new DecompressionStream(data, leaveOpen: true),
        ".gz" => new GZipStream(data, CompressionMode.Decompress, leaveOpen: true),
        ".bz2" => BZip2Stream.Create(data, SharpCompress.Compressors.CompressionMode.Decompress, true, true),
        ".xz" => new XZStream(data),
        ".tar" => data,
        var other => throw new InvalidDataException($"{name}: unsupported compression '{other}' (expected zst, gz, bz2, xz or none)"),
    };

    private static void ReadMetadata(Stream stream, Dictionary<string, string> metadata)
    {
        using var tar = new TarReader(stream);
        while (tar.GetNextEntry(copyData: false) is { } entry)
        {
            var name = entry.Name.StartsWith("metadata/", StringComparison.Ordinal) ? entry.Name["metadata/".Length..] : entry.Name;
            if (entry.DataStream is null || entry.Length > MaxMetadataValue || !IsTextVariable(name))
            {
                continue;
            }

            using var reader = new StreamReader(entry.DataStream, Encoding.UTF8);
            metadata[name] = reader.ReadToEnd().TrimEnd('\n');
        }
    }

    private static (string Md5, string Sha1) Checksums(Stream stream)
    {
        using var md5 = IncrementalHash.CreateHash(HashAlgorithmName.MD5);
        using var sha1 = IncrementalHash.CreateHash(HashAlgorithmName.SHA1);
        var buffer = new byte[81920];
        int read;
        while ((read = stream.Read(buffer)) > 0)
        {
            md5.AppendData(buffer, 0, read);
            sha1.AppendData(buffer, 0, read);
        }

        return (Convert.ToHexStringLower(md5.GetHashAndReset()), Convert.ToHexStringLower(sha1.GetHashAndReset()));
    }
}
