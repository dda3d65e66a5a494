using System.Net;
using k8s.Autorest;
using Serilog.Core;

namespace Gentoo.Operator.Hosting;

/// <summary>
/// The start-up requests, tried again when the API server says "not now" (429, or a 5xx as a rolling or busy one
/// answers) for up to ten seconds, each retry a warning line. What persists, or any other answer, still ends the
/// process with its one clear line, and the kubelet's restart back-off takes over from there.
/// </summary>
internal static class StartupRetry
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan LongestWait = TimeSpan.FromSeconds(2);

    public static async Task<T> RunAsync<T>(Func<Task<T>> step, Logger logger, CancellationToken ct)
    {
        var delay = TimeSpan.FromMilliseconds(250);
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        while (true)
        {
            try
            {
                return await step();
            }
            catch (Exception e) when (TransientStatus(e) is { } status)
            {
                if (System.Diagnostics.Stopwatch.GetElapsedTime(started) + delay >= Patience)
                {
                    if (e is StartupException)
                    {
                        throw; // its one line says it already
                    }

                    throw new StartupException(
                        $"the API server kept answering {(int)status} ({Message(e)}) for {Patience.TotalSeconds:0} s while the operator started; exiting, to be started again", e);
                }

                logger.Warning("The API server answered {Status} while the operator starts; trying again in {Delay}", (int)status, delay);
                await Task.Delay(delay, ct);
                delay = delay * 2 < LongestWait ? delay * 2 : LongestWait;
            }
        }
    }

    /// <summary>The API server's own words (the Status message), else the exception's.</summary>
    private static string Message(Exception e) => e switch
    {
        HttpOperationException { Response.Content: { Length: > 0 } content } when TryStatusMessage(content) is { } said => said,
        _ => e.InnerException is { } inner ? Message(inner) : e.Message,
    };

    private static string? TryStatusMessage(string content)
    {
        try
        {
            using var json = System.Text.Json.JsonDocument.Parse(content);
            return json.RootElement.TryGetProperty("message", out var message) ? message.GetString() : null;
        }
        catch (System.Text.Json.JsonException)
        {
            return null;
        }
    }

    private static HttpStatusCode? TransientStatus(Exception? e) => e switch
    {
        null => null,
        HttpOperationException { Response.StatusCode: var code } when code is HttpStatusCode.TooManyRequests || (int)code >= 500 => code,
        _ => TransientStatus(e.InnerException),
    };
}
