using System.Runtime.InteropServices;
using Gentoo.Agent;
using Gentoo.Agent.Config;
using Gentoo.Protocol;

using var stop = new CancellationTokenSource();
using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context =>
{
    // Kubernetes stops the pod: forward to emerge, let it finish its phase, report Interrupted.
    context.Cancel = true;
    stop.Cancel();
});
using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, context =>
{
    context.Cancel = true;
    stop.Cancel();
});

AgentOptions? options = null;
try
{
    options = AgentOptions.Parse(args);
    await using var console = Console.OpenStandardOutput();
    var (exitCode, report) = await new BuilderAgent(options, console, TimeProvider.System, Console.Error).RunAsync(stop.Token);
    WriteTerminationMessage(options.TerminationLog, report);
    return exitCode;
}
catch (Exception e) when (e is UsageException or ConfigException or IOException or UnauthorizedAccessException)
{
    // Without a step the report still names one: the usage error came before the agent knew what it was asked to do.
    var step = options?.Step ?? (args.Length > 0 && AgentSteps.TryParse(args[0], out var named) ? named : AgentStep.Configure);
    Console.Error.WriteLine($"gentoo-agent: {e.Message}");
    WriteTerminationMessage(options?.TerminationLog ?? AgentPod.TerminationLog, new AgentReport
    {
        Step = step,
        Result = AgentResult.AgentError,
        Error = e.Message,
        Started = DateTimeOffset.UtcNow,
        Finished = DateTimeOffset.UtcNow,
    });
    return ExitCodes.AgentError;
}

static void WriteTerminationMessage(string path, AgentReport report)
{
    try
    {
        File.WriteAllText(path, report.ToTerminationMessage());
    }
    catch (Exception e) when (e is IOException or UnauthorizedAccessException or DirectoryNotFoundException)
    {
        // Outside a pod there is no termination log; the report is on the volume and in the log.
    }
}
