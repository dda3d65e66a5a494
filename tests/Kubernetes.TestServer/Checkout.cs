namespace Gentoo.Kubernetes.TestServer;

/// <summary>Files of this checkout (config/crd, config/samples, fixtures) that the tests and benchmarks read.</summary>
public static class Checkout
{
    public static string Root { get; } = FindRoot();

    public static string PathOf(params string[] parts) => Path.Combine([Root, .. parts]);

    /// <summary>Copies a directory of the checkout (such as the PKGDIR fixture) into <paramref name="to"/>, for a test to change.</summary>
    public static void CopyDirectory(string from, DirectoryInfo to)
    {
        foreach (var file in new DirectoryInfo(from).EnumerateFiles("*", SearchOption.AllDirectories))
        {
            var target = Path.Combine(to.FullName, Path.GetRelativePath(from, file.FullName));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            file.CopyTo(target);
        }
    }

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
