namespace Gentoo.Portage.Tests;

/// <summary>tests/Fixtures: output and files real Portage produced, and samples from public sources.</summary>
public static class Fixtures
{
    public static string Root { get; } = Find();

    public static string PathOf(params string[] parts) => Path.Combine([Root, .. parts]);

    private static string Find()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            var candidate = Path.Combine(directory.FullName, "tests", "Fixtures");
            if (Directory.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new InvalidOperationException($"no tests/Fixtures above {AppContext.BaseDirectory}");
    }
}
