using System.Globalization;
using System.Text;

namespace Gentoo.Portage.Releases;

/// <summary>
/// Ebuild repositories as git commits in a <see cref="GitPackStore"/>: the tree exactly as the builder had it
/// (ebuilds, Manifests, the metadata cache, profiles), so a client that checks it out resolves the same versions the
/// packages were built from. A `.git` directory inside the repository is left out; empty directories are too (git
/// cannot hold them, and Portage needs none).
/// </summary>
public static class RepositorySnapshot
{
    private const string Author = "gentoo-builder <gentoo-builder@localhost>";

    /// <summary>Writes every object of <paramref name="repository"/> not in the store yet; returns the root tree's id.</summary>
    public static string WriteTree(GitPackStore.PackWriter pack, string repository)
    {
        if (!Directory.Exists(repository))
        {
            throw new DirectoryNotFoundException($"the repository {repository} does not exist");
        }

        return Tree(pack, new DirectoryInfo(repository)) ?? pack.Add(GitObjectKind.Tree, []);
    }

    /// <summary>A commit of <paramref name="tree"/> after <paramref name="parent"/> (none: the first one).</summary>
    public static string Commit(GitPackStore.PackWriter pack, string tree, string? parent, string message, DateTimeOffset time)
    {
        var when = time.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture) + " +0000";
        var text = new StringBuilder();
        text.Append("tree ").Append(tree).Append('\n');
        if (parent is not null)
        {
            text.Append("parent ").Append(parent).Append('\n');
        }

        text.Append("author ").Append(Author).Append(' ').Append(when).Append('\n');
        text.Append("committer ").Append(Author).Append(' ').Append(when).Append('\n');
        text.Append('\n').Append(message.TrimEnd('\n')).Append('\n');
        return pack.Add(GitObjectKind.Commit, Encoding.UTF8.GetBytes(text.ToString()));
    }

    /// <summary>
    /// Where the repository itself says it was synced to: the rsync tree's metadata/timestamp.chk, else the commit a
    /// git checkout's HEAD names; null when it says neither.
    /// </summary>
    public static string? SourceRevision(string repository)
    {
        var timestamp = Path.Combine(repository, "metadata", "timestamp.chk");
        if (File.Exists(timestamp) && File.ReadLines(timestamp).FirstOrDefault()?.Trim() is { Length: > 0 } stamp)
        {
            return "timestamp.chk " + stamp;
        }

        var head = Path.Combine(repository, ".git", "HEAD");
        if (!File.Exists(head))
        {
            return null;
        }

        var value = File.ReadAllText(head).Trim();
        if (value.StartsWith("ref: ", StringComparison.Ordinal))
        {
            var reference = Path.Combine(repository, ".git", value[5..]);
            value = File.Exists(reference) ? File.ReadAllText(reference).Trim() : "";
        }

        return value.Length == 40 ? "git " + value : null;
    }

    private static string? Tree(GitPackStore.PackWriter pack, DirectoryInfo directory)
    {
        var entries = new List<(byte[] Name, string Mode, string Id, bool IsTree)>();
        foreach (var entry in directory.EnumerateFileSystemInfos())
        {
            if (entry.Name == ".git")
            {
                continue;
            }

            var name = Encoding.UTF8.GetBytes(entry.Name);
            if (entry.LinkTarget is { } target)
            {
                entries.Add((name, "120000", pack.Add(GitObjectKind.Blob, Encoding.UTF8.GetBytes(target)), false));
            }
            else if (entry is DirectoryInfo child)
            {
                if (Tree(pack, child) is { } id)
                {
                    entries.Add((name, "40000", id, true));
                }
            }
            else if (entry is FileInfo file)
            {
                var executable = !OperatingSystem.IsWindows() && (file.UnixFileMode & UnixFileMode.UserExecute) != 0;
                entries.Add((name, executable ? "100755" : "100644", pack.Add(GitObjectKind.Blob, File.ReadAllBytes(file.FullName)), false));
            }
        }

        if (entries.Count == 0)
        {
            return null;
        }

        // git orders a tree's entries by name, a directory's name as if it ended in '/'.
        entries.Sort((a, b) => SortKey(a.Name, a.IsTree).AsSpan().SequenceCompareTo(SortKey(b.Name, b.IsTree)));
        var content = new MemoryStream();
        foreach (var (name, mode, id, _) in entries)
        {
            content.Write(Encoding.ASCII.GetBytes(mode + " "));
            content.Write(name);
            content.WriteByte(0);
            content.Write(Convert.FromHexString(id));
        }

        return pack.Add(GitObjectKind.Tree, content.ToArray());
    }

    private static byte[] SortKey(byte[] name, bool isTree) => isTree ? [.. name, (byte)'/'] : name;
}
