using System.Diagnostics;
using System.Runtime.InteropServices;
using Gentoo.Portage.Emerge;
using Gentoo.Protocol;

namespace Gentoo.Agent.Emerge;

/// <summary>How a command ended.</summary>
public sealed record CommandResult(int ExitCode, bool Interrupted);

/// <summary>
/// Runs one command (emerge, inside the chroot in production), streaming its output as it comes to the agent's
/// stdout (so kubectl logs -f works), to a log file on the root volume and to the classifier. When the agent is
/// asked to stop, the command gets SIGTERM and the agent waits for it, up to a grace period, then kills it.
/// </summary>
public sealed partial class CommandRunner(Stream console, string logPath, TimeSpan gracePeriod)
{
    private const int SigTerm = 15;
    private readonly Lock gate = new();

    public async Task<CommandResult> RunAsync(
        string file, IReadOnlyList<string> args, IReadOnlyDictionary<string, string> environment, EmergeClassifier? classifier, CancellationToken stop)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(logPath)!);
        await using var log = new FileStream(logPath, FileMode.Append, FileAccess.Write, FileShare.Read);
        var start = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        foreach (var name in AgentPod.RuntimeEnvironment.Keys)
        {
            start.Environment.Remove(name); // the agent's GC settings, not for .NET programs emerge builds
        }

        foreach (var (name, value) in environment)
        {
            start.Environment[name] = value;
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {file}");
        process.StandardInput.Close(); // emerge must never wait for a keyboard
        var stdout = PumpAsync(process.StandardOutput.BaseStream, log, classifier);
        var stderr = PumpAsync(process.StandardError.BaseStream, log, classifier);
        var interrupted = false;
        using (stop.Register(() =>
        {
            interrupted = true;
            if (!process.HasExited)
            {
                _ = Kill(process.Id, SigTerm);
            }
        }))
        {
            var exited = process.WaitForExitAsync(CancellationToken.None);
            await Task.WhenAny(exited, WhenCancelled(stop));
            if (stop.IsCancellationRequested && !process.HasExited)
            {
                // Emerge exits once the running ebuild phase ends; past the grace period the pod is going anyway.
                if (await Task.WhenAny(exited, Task.Delay(gracePeriod, CancellationToken.None)) != exited)
                {
                    process.Kill(entireProcessTree: true);
                }
            }

            await exited;
        }

        await Task.WhenAll(stdout, stderr);
        await log.FlushAsync(CancellationToken.None);
        return new CommandResult(process.ExitCode, interrupted);
    }

    private async Task PumpAsync(Stream source, Stream log, EmergeClassifier? classifier)
    {
        var buffer = new byte[16 * 1024];
        int read;
        while ((read = await source.ReadAsync(buffer, CancellationToken.None)) > 0)
        {
            lock (gate)
            {
                console.Write(buffer, 0, read);
                log.Write(buffer, 0, read);
                log.Flush(); // the log on the volume is followed live (tail -f, kubectl gentoo logs)
                classifier?.Lines.Feed(buffer.AsSpan(0, read));
            }
        }

        lock (gate)
        {
            console.Flush();
        }
    }

    private static Task WhenCancelled(CancellationToken token)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        token.Register(() => done.TrySetResult());
        return done.Task;
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}
