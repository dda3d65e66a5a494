using Gentoo.Operator.Tests.Hosting;

namespace Gentoo.Operator.Tests.Faults;

/// <summary>
/// Keeps one operator process running as a kubelet keeps a container: one that exits by itself (it lost its Lease to
/// an API fault, say) is started again after a second, and <see cref="KillAsync"/> kills it with SIGKILL and starts it
/// again after a delay, as a crash and a restart would. With GENTOO_FAULT_LOG set, everything each process wrote is
/// appended to that file when it ends, to trace a run afterwards.
/// </summary>
public sealed class OperatorSupervisor : IAsyncDisposable
{
    private readonly string[] arguments;
    private readonly Lock gate = new();
    private readonly CancellationTokenSource stopping = new();
    private readonly Task watching;
    private OperatorProcess.Running current;
    private bool restarting;
    private readonly string? logFile = Environment.GetEnvironmentVariable("GENTOO_FAULT_LOG") is { Length: > 0 } path ? path : null;

    public OperatorSupervisor(string[] arguments)
    {
        this.arguments = arguments;
        current = OperatorProcess.Start(arguments);
        watching = WatchAsync();
    }

    public int Kills { get; private set; }

    /// <summary>Exits the operator made by itself, each followed by a restart.</summary>
    public int Exits => ExitReasons.Count;

    /// <summary>The last lines each of those processes wrote to stderr.</summary>
    public List<string> ExitReasons { get; } = [];

    /// <summary>The last words of the newest process, for failure messages.</summary>
    public Task<string> DescribeAsync()
    {
        lock (gate)
        {
            return current.DescribeAsync();
        }
    }

    /// <summary>What the running process has written so far, line by line (it is still running: read without waiting for its end).</summary>
    public Task<string[]> RecentErrorsAsync()
    {
        OperatorProcess.Running running;
        lock (gate)
        {
            running = current;
        }

        return Task.FromResult(running.ErrorLinesSoFar());
    }

    public async Task KillAsync(TimeSpan restartAfter)
    {
        OperatorProcess.Running killed;
        lock (gate)
        {
            killed = current;
            restarting = true;
        }

        killed.Process.Kill(); // SIGKILL: no shutdown, the Lease left held
        await killed.Process.WaitForExitAsync();
        Kills++;
        await KeepLogAsync(killed, "killed");
        killed.Dispose();
        await Task.Delay(restartAfter);
        lock (gate)
        {
            current = OperatorProcess.Start(arguments);
            restarting = false;
        }
    }

    private async Task WatchAsync()
    {
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(TimeSpan.FromSeconds(1), stopping.Token);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            OperatorProcess.Running exited;
            lock (gate)
            {
                if (restarting || !current.HasExited)
                {
                    continue;
                }

                exited = current;
                current = OperatorProcess.Start(arguments);
            }

            var lines = (await exited.StandardError + await exited.StandardOutput).Split('\n', StringSplitOptions.RemoveEmptyEntries);
            // The one-line error, or the exception with where it was thrown (its first frames), to be traced.
            var first = Array.FindIndex(lines, l => l.StartsWith("gentoo-operator:", StringComparison.Ordinal) || l.Contains("Exception", StringComparison.Ordinal));
            var said = first < 0 ? [] : lines.Skip(first).Take(1).Concat(lines.Skip(first + 1).TakeWhile(l => l.TrimStart().StartsWith("at ", StringComparison.Ordinal)).Take(12)).ToList();
            ExitReasons.Add($"exit {exited.Process.ExitCode}: {string.Join(" | ", said.Count > 0 ? said : lines.TakeLast(4))}");
            await KeepLogAsync(exited, $"exited {exited.Process.ExitCode}");
            exited.Dispose();
        }
    }

    private async Task KeepLogAsync(OperatorProcess.Running ended, string how)
    {
        if (logFile is not null)
        {
            await File.AppendAllTextAsync(logFile, $"--- operator process {ended.Process.Id} {how} ---\n{await ended.StandardOutput}{await ended.StandardError}");
        }
    }

    public async ValueTask DisposeAsync()
    {
        await stopping.CancelAsync();
        await watching;
        await current.TerminateAsync();
        await KeepLogAsync(current, "stopped");
        current.Dispose();
        stopping.Dispose();
    }
}
