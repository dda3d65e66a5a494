namespace Gentoo.Operator.Tests;

/// <summary>Files of this checkout (config/crd, config/samples) that the tests read.</summary>
internal static class Checkout
{
    public static string Root { get; } = FindRoot();

    public static string PathOf(params string[] parts) => Path.Combine([Root, .. parts]);

    private static string FindRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "GentooBuilder.sln")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException($"no GentooBuilder.sln above {AppContext.BaseDirectory}");
    }
}
