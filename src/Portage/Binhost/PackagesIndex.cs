using System.Text;

namespace Gentoo.Portage.Binhost;

/// <summary>One block of a Packages index: "KEY: value" fields in their order, unknown keys kept.</summary>
public sealed class IndexBlock
{
    private readonly List<KeyValuePair<string, string>> fields = [];

    public IReadOnlyList<KeyValuePair<string, string>> Fields => fields;

    public string? this[string key]
    {
        get => fields.FirstOrDefault(f => f.Key == key).Value;
        set
        {
            var index = fields.FindIndex(f => f.Key == key);
            if (value is null)
            {
                if (index >= 0)
                {
                    fields.RemoveAt(index);
                }
            }
            else if (index >= 0)
            {
                fields[index] = new(key, value);
            }
            else
            {
                fields.Add(new(key, value));
            }
        }
    }

    public void Add(string key, string value) => fields.Add(new(key, value));
}

/// <summary>
/// Portage's binary package index (PKGDIR/Packages): a header block, a blank line, then one block per package
/// (CPV, BUILD_ID, PATH, SIZE, checksums, SLOT, USE, REPO, KEYWORDS, MTIME and the rest), each followed by a
/// blank line. Parsing then writing gives back the same bytes; unknown fields are kept.
/// </summary>
public sealed class PackagesIndex
{
    public IndexBlock Header { get; } = new();

    public List<IndexBlock> Packages { get; } = [];

    public static PackagesIndex Parse(TextReader reader)
    {
        var index = new PackagesIndex();
        IndexBlock? block = index.Header;
        var lineNumber = 0;
        var headerDone = false;
        while (reader.ReadLine() is { } line)
        {
            lineNumber++;
            if (line.Length == 0)
            {
                if (!headerDone)
                {
                    headerDone = true;
                }

                block = null;
                continue;
            }

            if (block is null)
            {
                block = new IndexBlock();
                index.Packages.Add(block);
            }

            var colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0)
            {
                throw new FormatException($"Packages line {lineNumber}: expected 'KEY: value', got '{line}'");
            }

            var value = line[(colon + 1)..];
            block.Add(line[..colon], value.StartsWith(' ') ? value[1..] : value);
        }

        return index;
    }

    public static PackagesIndex Parse(string text) => Parse(new StringReader(text));

    public void Write(TextWriter writer)
    {
        WriteBlock(writer, Header);
        foreach (var package in Packages)
        {
            WriteBlock(writer, package);
        }
    }

    public override string ToString()
    {
        var text = new StringWriter { NewLine = "\n" };
        Write(text);
        return text.ToString();
    }

    private static void WriteBlock(TextWriter writer, IndexBlock block)
    {
        var text = new StringBuilder();
        foreach (var (key, value) in block.Fields)
        {
            text.Append(key).Append(": ").Append(value).Append('\n');
        }

        text.Append('\n');
        writer.Write(text.ToString());
    }
}
