namespace Gentoo.Kubernetes.TestServer;

/// <summary>Polls until a condition holds; integration tests wait for convergence, never for a fixed time.</summary>
public static class Eventually
{
    /// <param name="every">How long to wait between probes: 25 ms unless a benchmark times the wait more finely.</param>
    public static async Task<T> GetAsync<T>(Func<Task<T>> probe, Func<T, bool> done, string what, TimeSpan? timeout = null, TimeSpan? every = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(20));
        T value;
        while (true)
        {
            value = await probe();
            if (done(value))
            {
                return value;
            }

            if (DateTime.UtcNow > deadline)
            {
                var shown = value is k8s.IKubernetesObject ? k8s.KubernetesJson.Serialize(value) : value?.ToString();
                throw new TimeoutException($"timed out waiting for {what}; last value: {shown}");
            }

            await Task.Delay(every ?? TimeSpan.FromMilliseconds(25));
        }
    }

    public static Task TrueAsync(Func<bool> condition, string what, TimeSpan? timeout = null) =>
        GetAsync(() => Task.FromResult(condition()), v => v, what, timeout);
}
