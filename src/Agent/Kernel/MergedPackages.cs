using Gentoo.Portage.Elf;

namespace Gentoo.Agent.Kernel;

/// <summary>The kernel requirement of what a run merged: the ELF files its packages installed, per /var/db/pkg CONTENTS.</summary>
public static class MergedPackages
{
    public static KernelRequirementReport Scan(string root, IEnumerable<string> cpvs)
    {
        var files = new List<string>();
        var errors = new List<string>();
        foreach (var cpv in cpvs.Distinct())
        {
            var contents = Path.Combine(root, "var", "db", "pkg", cpv, "CONTENTS");
            if (!File.Exists(contents))
            {
                errors.Add($"{cpv}: no {contents}");
                continue;
            }

            foreach (var line in File.ReadLines(contents))
            {
                if (ObjectPath(line) is { } path)
                {
                    files.Add(Path.Combine(root, path.TrimStart('/')));
                }
            }
        }

        var report = KernelRequirementScanner.Scan(files);
        return report with { Errors = [.. errors, .. report.Errors] };
    }

    /// <summary>"obj /usr/lib/libfoo.so.1 MD5 MTIME": the path may contain spaces, the last two fields never do.</summary>
    internal static string? ObjectPath(string line)
    {
        if (!line.StartsWith("obj ", StringComparison.Ordinal))
        {
            return null;
        }

        var fields = line[4..].Split(' ');
        return fields.Length >= 3 ? string.Join(' ', fields[..^2]) : null;
    }
}
