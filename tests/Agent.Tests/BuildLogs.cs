namespace Gentoo.Agent.Tests;

/// <summary>The build logs the agent writes into a root, as a test waits on them.</summary>
internal static class BuildLogs
{
    /// <summary>Waits until a build log under <paramref name="root"/> shows <paramref name="text"/>; a run that ends first says why.</summary>
    public static async Task WaitForAsync(string root, string text, Task run, TimeSpan timeout)
    {
        var logs = Path.Combine(root, "var", "log", "gentoo-builder");
        var deadline = DateTime.UtcNow + timeout;
        while (!(Directory.Exists(logs) && Directory.GetFiles(logs, "*.log").Any(f => ReadShared(f).Contains(text, StringComparison.Ordinal))))
        {
            DateTime.UtcNow.ShouldBeLessThan(deadline, $"a build log to show \"{text}\"");
            if (run.IsCompleted)
            {
                await run; // surfaces why the build ended before it got there
            }

            await Task.Delay(20);
        }
    }

    /// <summary>A file the agent may still be writing.</summary>
    public static string ReadShared(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        return new StreamReader(stream).ReadToEnd();
    }
}
