using System.Text;
using System.Text.RegularExpressions;
using Gentoo.Portage.Atoms;
using Gentoo.Portage.Config;

namespace Gentoo.Agent.Config;

/// <summary>The configuration could not be read or applied; the message names the key or file and what would be valid.</summary>
public sealed class ConfigException(string message) : Exception(message);

/// <summary>
/// Writes the desired Portage configuration (a mounted ConfigMap: one file per key) into a Gentoo root's
/// /etc/portage as clearly marked managed files. Files and lines a person added are never touched: where
/// /etc/portage/package.use is a directory the agent owns its own file in it, where it is a file the agent owns
/// only a marked block inside it, one block per key (package.use and package.use.fixes each keep their own lines);
/// the world file only gains atoms.
/// </summary>
public static partial class ManagedConfig
{
    public const string ManagedFileName = "zz-gentoo-builder";
    public const string BeginMarker = "# BEGIN gentoo-builder: managed by the operator; edit the GentooBootstrap or GentooBuilder instead";
    public const string EndMarker = "# END gentoo-builder";

    private static readonly string[] PackageFiles = ["package.use", "package.accept_keywords", "package.mask", "package.unmask", "package.license", "package.env"];

    /// <summary>Applies <paramref name="configDirectory"/> to <paramref name="root"/>; returns the paths it changed.</summary>
    public static IReadOnlyList<string> Apply(string configDirectory, string root) => Apply(configDirectory, [], root, _ => { });

    /// <summary>
    /// Applies the ConfigMap keys of <paramref name="configDirectory"/>, then each tree laid out like /etc/portage (a git
    /// checkout) appended key by key, to <paramref name="root"/>; returns the paths it changed.
    /// </summary>
    public static IReadOnlyList<string> Apply(string? configDirectory, IReadOnlyList<string> trees, string root, Action<string> say)
    {
        if (configDirectory is not null && !Directory.Exists(configDirectory))
        {
            throw new ConfigException($"configuration directory {configDirectory} does not exist (is the ConfigMap mounted?)");
        }

        var portage = Path.Combine(root, "etc", "portage");
        Directory.CreateDirectory(portage);
        var desired = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var file in configDirectory is null ? [] : Directory.EnumerateFiles(configDirectory))
        {
            var key = Path.GetFileName(file);
            if (key.StartsWith("..", StringComparison.Ordinal))
            {
                continue; // the ConfigMap volume's own bookkeeping (..data, ..2026_...)
            }

            desired[key] = Read(file, $"configuration key {key}");
        }

        foreach (var tree in trees)
        {
            foreach (var (key, text) in TreeKeys(tree, say))
            {
                desired[key] = desired.TryGetValue(key, out var before) ? before + (before.EndsWith('\n') || before.Length == 0 ? "" : "\n") + text : text;
            }
        }

        var changed = new List<string>();
        var owned = new HashSet<string>(StringComparer.Ordinal);
        var blocks = new Dictionary<string, List<(string? Key, string Body)>>(StringComparer.Ordinal);
        void Write(string path, string? suffix, string managedName, string text)
        {
            var body = text.EndsWith('\n') || text.Length == 0 ? text : text + "\n";
            if (Directory.Exists(path))
            {
                var file = Path.Combine(path, managedName);
                owned.Add(file);
                WriteIfChanged(file, BeginMarker + "\n" + body, changed);
                return;
            }

            owned.Add(path);
            (blocks.TryGetValue(path, out var list) ? list : blocks[path] = []).Add((suffix, body));
        }

        foreach (var (key, text) in desired.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            switch (key)
            {
                case "make.conf":
                    ValidateMakeConf(text);
                    Write(Path.Combine(portage, "make.conf"), null, ManagedFileName, text);
                    break;
                case "repos.conf":
                    Write(Path.Combine(portage, "repos.conf"), null, ManagedFileName + ".conf", text);
                    break;
                case "make.profile":
                    LinkProfile(Path.Combine(portage, "make.profile"), text.Trim(), changed);
                    break;
                case "world":
                    ValidateAtoms(key, text);
                    AddToWorld(Path.Combine(root, "var", "lib", "portage", "world"), text, changed);
                    break;
                default:
                    var (file, suffix) = SplitKey(key);
                    ValidateAtoms(key, text);
                    Write(Path.Combine(portage, file), suffix, suffix is null ? ManagedFileName : $"{ManagedFileName}-{suffix}", text);
                    break;
            }
        }

        foreach (var (path, wanted) in blocks)
        {
            WriteIfChanged(path, ReplaceBlocks(File.Exists(path) ? File.ReadAllText(path) : "", wanted), changed);
        }

        RemoveStale(portage, owned, changed);
        return changed;
    }

    /// <summary>
    /// The keys a directory laid out like /etc/portage stands for: make.conf and repos.conf (a file, or a directory of
    /// files), package.* files, and package.*/NAME files as package.*.NAME. Other entries (env/, patches/, make.profile)
    /// are not managed here; each is named on the console so nothing is ignored silently.
    /// </summary>
    internal static IEnumerable<(string Key, string Text)> TreeKeys(string tree, Action<string> say)
    {
        if (!Directory.Exists(tree))
        {
            throw new ConfigException($"configuration tree {tree} does not exist (did the git checkout fail, or does configFrom[].git.path name a missing directory?)");
        }

        foreach (var entry in new DirectoryInfo(tree).EnumerateFileSystemInfos().OrderBy(e => e.Name, StringComparer.Ordinal))
        {
            var name = entry.Name;
            if (name.StartsWith('.'))
            {
                continue; // .git and other hidden files
            }

            var managed = name is "make.conf" or "repos.conf" || PackageFiles.Contains(name);
            if (!managed || entry.LinkTarget is not null)
            {
                say($">>> gentoo-builder: {Path.Combine(tree, name)} is not managed configuration (only make.conf, repos.conf and package.* are); not applied");
                continue;
            }

            if (entry is FileInfo file)
            {
                yield return (name, Read(file.FullName, $"configuration file {file.FullName}"));
                continue;
            }

            foreach (var inner in Directory.EnumerateFiles(entry.FullName).Order(StringComparer.Ordinal).Where(f => !Path.GetFileName(f).StartsWith('.')))
            {
                var text = Read(inner, $"configuration file {inner}");
                yield return name is "make.conf" or "repos.conf" ? (name, text) : ($"{name}.{Path.GetFileName(inner)}", text);
            }
        }
    }

    private static string Read(string path, string what)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ConfigException($"{what} cannot be read: {e.Message}");
        }
    }

    private static (string File, string? Suffix) SplitKey(string key)
    {
        foreach (var file in PackageFiles)
        {
            if (key == file)
            {
                return (file, null);
            }

            if (key.StartsWith(file + ".", StringComparison.Ordinal) && key.Length > file.Length + 1)
            {
                return (file, key[(file.Length + 1)..]);
            }
        }

        throw new ConfigException(
            $"unknown configuration key '{key}': expected make.conf, make.profile, repos.conf, world, or one of {string.Join(", ", PackageFiles)} (optionally with a .NAME suffix, written to package.X/NAME)");
    }

    /// <summary>The line that opens the block of key <paramref name="suffix"/> (package.use.SUFFIX) in a file; the plain key's block has none.</summary>
    public static string BlockBegin(string? suffix) =>
        suffix is null ? BeginMarker : BeginMarker.Replace("gentoo-builder:", $"gentoo-builder {suffix}:", StringComparison.Ordinal);

    /// <summary>The line that closes the block of key <paramref name="suffix"/>.</summary>
    public static string BlockEnd(string? suffix) => suffix is null ? EndMarker : $"{EndMarker} {suffix}";

    /// <summary>
    /// The file with each of our blocks replaced by the wanted one of its key, blocks of keys no longer wanted removed,
    /// and new keys' blocks appended; every line outside our markers stays as and where it was.
    /// </summary>
    internal static string ReplaceBlocks(string existing, IReadOnlyList<(string? Key, string Body)> wanted)
    {
        string Block((string? Key, string Body) b) => BlockBegin(b.Key) + "\n" + b.Body + BlockEnd(b.Key) + "\n";
        var result = new StringBuilder();
        var written = new HashSet<string?>();
        var lines = existing.Split('\n');
        for (var i = 0; i < lines.Length; i++)
        {
            var last = i == lines.Length - 1;
            if (BlockStart().Match(lines[i]) is not { Success: true } begin)
            {
                if (!(last && lines[i].Length == 0))
                {
                    result.Append(lines[i]).Append(last ? "" : "\n");
                }

                continue;
            }

            var key = begin.Groups["key"].Success ? begin.Groups["key"].Value : null;
            var end = Array.FindIndex(lines, i + 1, l => l == BlockEnd(key));
            if (end < 0)
            {
                result.Append(lines[i]).Append(last ? "" : "\n"); // not a block of ours after all: a person's line
                continue;
            }

            if (wanted.FirstOrDefault(b => b.Key == key) is { Body: not null } replacement && written.Add(key))
            {
                result.Append(Block(replacement));
            }

            i = end;
        }

        foreach (var block in wanted.Where(b => !written.Contains(b.Key)))
        {
            if (result.Length > 0 && result[^1] != '\n')
            {
                result.Append('\n');
            }

            result.Append(Block(block));
        }

        return result.ToString();
    }

    [GeneratedRegex(@"^# BEGIN gentoo-builder(?: (?<key>[^:\s]+))?: ")]
    private static partial Regex BlockStart();

    /// <summary>What eselect profile set does: /etc/portage/make.profile becomes a relative link to the profile directory.</summary>
    private static void LinkProfile(string link, string profile, List<string> changed)
    {
        // Under a repository's profiles/ (anywhere: a repository's location may be outside /var/db/repos).
        if (!profile.StartsWith('/') || !profile.Contains("/profiles/", StringComparison.Ordinal) || profile.Split('/').Any(part => part is ".." or ".")
            || profile.Contains('\n', StringComparison.Ordinal))
        {
            throw new ConfigException($"configuration key make.profile: expected a profile directory under a repository's profiles/, such as /var/db/repos/gentoo/profiles/default/linux/amd64/23.0, got '{profile}'");
        }

        var target = "../.." + profile;
        var existing = new FileInfo(link);
        if (existing.LinkTarget == target)
        {
            return;
        }

        if (Directory.Exists(link) && existing.LinkTarget is null)
        {
            throw new ConfigException($"configuration key make.profile: {link} is a directory, not a link; move it away so the profile can be set");
        }

        if (existing.LinkTarget is not null || File.Exists(link))
        {
            File.Delete(link);
        }

        File.CreateSymbolicLink(link, target);
        changed.Add(link);
    }

    private static void AddToWorld(string path, string text, List<string> changed)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var existing = File.Exists(path) ? File.ReadAllLines(path).ToList() : [];
        var missing = Lines(text).Where(atom => !existing.Contains(atom)).ToList();
        if (missing.Count > 0)
        {
            File.WriteAllLines(path, existing.Concat(missing));
            changed.Add(path);
        }
    }

    private static void RemoveStale(string portage, HashSet<string> owned, List<string> changed)
    {
        foreach (var directory in PackageFiles.Append("make.conf").Append("repos.conf").Select(f => Path.Combine(portage, f)).Where(Directory.Exists))
        {
            foreach (var file in Directory.EnumerateFiles(directory, ManagedFileName + "*").Where(f => !owned.Contains(f)))
            {
                File.Delete(file);
                changed.Add(file);
            }
        }

        foreach (var file in PackageFiles.Append("make.conf").Append("repos.conf").Select(f => Path.Combine(portage, f)).Where(File.Exists))
        {
            if (!owned.Contains(file))
            {
                WriteIfChanged(file, ReplaceBlocks(File.ReadAllText(file), []), changed);
            }
        }
    }

    private static void WriteIfChanged(string path, string content, List<string> changed)
    {
        if (File.Exists(path) && File.ReadAllText(path) == content)
        {
            return;
        }

        // Write then rename, so an interrupted agent never leaves half a file for Portage to read.
        var temporary = path + ".gentoo-builder-tmp";
        File.WriteAllText(temporary, content, new UTF8Encoding(false));
        File.Move(temporary, path, overwrite: true);
        changed.Add(path);
    }

    /// <summary>Refuses exactly what Portage would refuse to read, naming the line.</summary>
    private static void ValidateMakeConf(string text)
    {
        try
        {
            MakeConf.Parse(text);
        }
        catch (MakeConfException e)
        {
            throw new ConfigException($"configuration key make.conf, {e.Message}");
        }
    }

    /// <summary>Every non-comment line must start with a valid atom (or, for world, be one).</summary>
    private static void ValidateAtoms(string key, string text)
    {
        foreach (var (number, trimmed) in Settings(text))
        {
            var atom = trimmed.Split((char[])[' ', '\t'], 2)[0];
            if (!Atom.TryParse(atom, out _, out var error))
            {
                throw new ConfigException($"configuration key {key}, line {number}: {error}");
            }
        }
    }

    /// <summary>The lines that say something (not blank, not comments), trimmed, with their 1-based line numbers.</summary>
    private static IEnumerable<(int Number, string Line)> Settings(string text) =>
        text.Split('\n').Select((line, index) => (index + 1, line.Trim())).Where(l => l.Item2.Length > 0 && !l.Item2.StartsWith('#'));

    private static IEnumerable<string> Lines(string text) => Settings(text).Select(l => l.Line);
}
