using k8s;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Gentoo.Operator.Hosting;

/// <summary>Readiness: the API server answered recently. Answers are cached so probes do not load the API server.</summary>
public sealed class ApiServerHealthCheck(IKubernetes kube, TimeProvider clock) : IHealthCheck, IDisposable
{
    private static readonly TimeSpan CacheFor = TimeSpan.FromSeconds(10);
    private readonly SemaphoreSlim gate = new(1, 1);
    private (DateTimeOffset At, HealthCheckResult Result)? last;

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        await gate.WaitAsync(cancellationToken);
        try
        {
            var now = clock.GetUtcNow();
            if (last is { } cached && now - cached.At < CacheFor)
            {
                return cached.Result;
            }

            HealthCheckResult result;
            try
            {
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                timeout.CancelAfter(TimeSpan.FromSeconds(5));
                var version = await kube.Version.GetCodeAsync(timeout.Token);
                result = HealthCheckResult.Healthy($"API server {version.GitVersion}");
            }
            catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                result = HealthCheckResult.Unhealthy("API server unreachable: " + e.Message);
            }

            last = (now, result);
            return result;
        }
        finally
        {
            gate.Release();
        }
    }

    public void Dispose() => gate.Dispose();
}
