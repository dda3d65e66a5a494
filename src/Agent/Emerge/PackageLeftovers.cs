using System.Text.RegularExpressions;
using Gentoo.Portage.Binhost;

namespace Gentoo.Agent.Emerge;

/// <summary>
/// What an emerge that did not finish leaves in PKGDIR: the empty file binpkg-multi-instance creates to reserve a
/// build id before the package is written, and the temporary files Portage writes whole before renaming them over
/// the real name (NAME.PID). Neither is ever a finished package; both would stay for ever and the empty one is
/// served to clients as a broken package. A finished package is never empty and never carries a PID suffix, so it
/// is never touched. Only one pod at a time has a builder's volumes, so whatever is found between two emerge runs
/// was left by an earlier attempt that was killed or failed.
/// </summary>
public static partial class PackageLeftovers
{
    /// <summary>Removes the leftovers under <paramref name="pkgdir"/> and returns their paths relative to it.</summary>
    public static IReadOnlyList<string> Remove(string pkgdir)
    {
        var removed = new List<string>();
        if (!Directory.Exists(pkgdir))
        {
            return removed;
        }

        var walk = new EnumerationOptions { RecurseSubdirectories = true, IgnoreInaccessible = true, AttributesToSkip = FileAttributes.ReparsePoint, MatchType = MatchType.Simple };
        foreach (var file in new DirectoryInfo(pkgdir).EnumerateFiles("*", walk))
        {
            if (IsLeftover(file.Name, file.Length))
            {
                try
                {
                    file.Delete();
                    removed.Add(Path.GetRelativePath(pkgdir, file.FullName));
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    // Gone already, or not ours to delete: nothing was lost either way.
                }
            }
        }

        return removed;
    }

    /// <summary>True for an empty package placeholder or a package or index file still being written (NAME.PID).</summary>
    public static bool IsLeftover(string fileName, long length) =>
        Gpkg.PackageFileEndings.Any(e => fileName.EndsWith(e, StringComparison.Ordinal)) ? length == 0 : Unfinished().IsMatch(fileName);

    [GeneratedRegex(@"^(?:.+(?:\.gpkg\.tar|\.tbz2|\.xpak)[^/]*|Packages)\.[0-9]+$")]
    private static partial Regex Unfinished();
}
