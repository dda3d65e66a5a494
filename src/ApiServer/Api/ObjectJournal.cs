using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;

namespace Gentoo.ApiServer.Api;

/// <summary>
/// Every stored object as one JSON file in a state directory (<c>objects/RESOURCE.GROUP/NAMESPACE/NAME.json</c>), written
/// before the write is answered: to a temporary file, flushed to the disk, renamed over the old one, and the directory
/// flushed, so a crash or a power loss at any point leaves either the old or the new object and never loses one the
/// server acknowledged.
/// </summary>
public sealed partial class ObjectJournal
{
    private const string ClusterScope = "_";
    private readonly string objectsDirectory;
    private readonly string revisionFile;
    private readonly Dictionary<string, List<JsonObject>> unclaimed = new(StringComparer.Ordinal);

    private ObjectJournal(string directory)
    {
        objectsDirectory = Path.Combine(directory, "objects");
        revisionFile = Path.Combine(directory, "revision");
    }

    /// <summary>The highest resourceVersion the store handed out before, so a restarted server never hands one out twice.</summary>
    public long Revision { get; private set; }

    /// <summary>Opens (creating) a state directory and reads what it holds; a file that is not an object stops the start naming it.</summary>
    public static ObjectJournal Open(string directory)
    {
        var journal = new ObjectJournal(directory);
        Directory.CreateDirectory(journal.objectsDirectory);
        if (File.Exists(journal.revisionFile)
            && long.TryParse(File.ReadAllText(journal.revisionFile).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var removedAt))
        {
            journal.Revision = removedAt;
        }

        foreach (var typeDirectory in Directory.EnumerateDirectories(journal.objectsDirectory))
        {
            var key = TypeKey(Path.GetFileName(typeDirectory));
            var items = new List<JsonObject>();
            foreach (var file in Directory.EnumerateFiles(typeDirectory, "*.json", SearchOption.AllDirectories))
            {
                var obj = ReadObject(file);
                items.Add(obj);
                if (long.TryParse(obj["metadata"]?["resourceVersion"]?.GetValue<string>(), NumberStyles.None, CultureInfo.InvariantCulture, out var version))
                {
                    journal.Revision = Math.Max(journal.Revision, version);
                }
            }

            journal.unclaimed[key] = items;
        }

        return journal;
    }

    /// <summary>The stored objects of one resource, handed out once: when the server registers the resource.</summary>
    public IReadOnlyList<JsonObject> Claim(string typeKey) =>
        unclaimed.Remove(typeKey, out var items) ? items : [];

    public void Saved(ResourceType type, string ns, string name, JsonObject stored) =>
        WriteAtomically(ObjectPath(type, ns, name), stored.ToJsonString());

    public void Removed(ResourceType type, string ns, string name, long revision)
    {
        // The removed object may have held the highest resourceVersion; remember it before the object is gone.
        WriteAtomically(revisionFile, revision.ToString(CultureInfo.InvariantCulture));
        var path = ObjectPath(type, ns, name);
        File.Delete(path);
        SyncDirectory(Path.GetDirectoryName(path)!);
    }

    private string ObjectPath(ResourceType type, string ns, string name) =>
        Path.Combine(objectsDirectory, type.QualifiedName, ns.Length == 0 ? ClusterScope : ns, name + ".json");

    /// <summary>"pods" is the core group's; "gentoobuilders.gentoo.example.org" names the group after the first dot.</summary>
    private static string TypeKey(string directoryName) =>
        directoryName.IndexOf('.', StringComparison.Ordinal) is var dot and > 0
            ? $"{directoryName[(dot + 1)..]}/{directoryName[..dot]}"
            : $"/{directoryName}";

    private static JsonObject ReadObject(string file)
    {
        try
        {
            return JsonNode.Parse(File.ReadAllText(file)) as JsonObject
                ?? throw new InvalidDataException($"{file} is not a JSON object");
        }
        catch (System.Text.Json.JsonException e)
        {
            throw new InvalidDataException($"{file} is not a stored object ({e.Message}); move it away to start without it", e);
        }
    }

    private static void WriteAtomically(string path, string text)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var temporary = path + ".tmp";
        using (var stream = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            stream.Write(Encoding.UTF8.GetBytes(text));
            stream.Flush(flushToDisk: true);
        }

        File.Move(temporary, path, overwrite: true);
        SyncDirectory(Path.GetDirectoryName(path)!);
    }

    /// <summary>
    /// The rename is durable only once the directory is: without this a power loss could bring back the old file after the
    /// write was answered. .NET opens no directory handles, so it is open(2) and fsync(2) themselves.
    /// </summary>
    private static void SyncDirectory(string directory)
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }

        const int ReadOnly = 0; // O_RDONLY opens a directory too (O_DIRECTORY's value differs between architectures)
        var descriptor = Open(directory, ReadOnly);
        if (descriptor < 0)
        {
            throw new IOException($"cannot open {directory} to make a write durable (errno {System.Runtime.InteropServices.Marshal.GetLastPInvokeError()})");
        }

        try
        {
            if (Fsync(descriptor) != 0)
            {
                throw new IOException($"cannot make {directory} durable (errno {System.Runtime.InteropServices.Marshal.GetLastPInvokeError()})");
            }
        }
        finally
        {
            _ = Close(descriptor);
        }
    }

    [System.Runtime.InteropServices.LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = System.Runtime.InteropServices.StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags);

    [System.Runtime.InteropServices.LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static partial int Fsync(int descriptor);

    [System.Runtime.InteropServices.LibraryImport("libc", EntryPoint = "close")]
    private static partial int Close(int descriptor);
}
