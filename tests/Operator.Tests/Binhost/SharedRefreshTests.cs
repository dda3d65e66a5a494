using Gentoo.Binhost;

namespace Gentoo.Operator.Tests.Binhost;

public sealed class SharedRefreshTests
{
    /// <summary>A refresh that counts its runs and waits to be let go, so a test decides when each run ends.</summary>
    private sealed class GatedRefresh
    {
        private readonly SemaphoreSlim started = new(0);
        private readonly SemaphoreSlim release = new(0);
        private int runs;

        public int Runs => Volatile.Read(ref runs);

        public int Run()
        {
            var number = Interlocked.Increment(ref runs);
            started.Release();
            release.Wait();
            return number;
        }

        public Task StartedAsync() => started.WaitAsync(TimeSpan.FromSeconds(10));

        public void Finish() => release.Release();
    }

    [Fact]
    public async Task A_caller_that_arrives_during_a_run_gets_the_next_run_never_the_one_begun_before_it()
    {
        var gate = new GatedRefresh();
        var refresh = new SharedRefresh<int>(gate.Run);

        var first = refresh.GetAsync();
        await gate.StartedAsync();
        var late = refresh.GetAsync();
        gate.Finish();

        (await first).ShouldBe(1);
        await gate.StartedAsync();
        late.IsCompleted.ShouldBeFalse("the first run began before this caller, so it may have missed what the caller must see");
        gate.Finish();
        (await late).ShouldBe(2);
    }

    [Fact]
    public async Task Callers_waiting_together_share_one_run()
    {
        var gate = new GatedRefresh();
        var refresh = new SharedRefresh<int>(gate.Run);
        var first = refresh.GetAsync();
        await gate.StartedAsync();

        var waiting = Enumerable.Range(0, 50).Select(_ => refresh.GetAsync()).ToList();
        gate.Finish();
        await gate.StartedAsync();
        gate.Finish();

        (await first).ShouldBe(1);
        (await Task.WhenAll(waiting)).ShouldAllBe(run => run == 2);
        gate.Runs.ShouldBe(2, "fifty callers, one run after the one they found");
    }

    [Fact]
    public async Task A_failed_run_fails_its_own_callers_and_the_next_caller_runs_again()
    {
        var calls = 0;
        var refresh = new SharedRefresh<int>(() => ++calls == 1 ? throw new IOException("PKGDIR gone") : calls);

        (await Should.ThrowAsync<IOException>(refresh.GetAsync())).Message.ShouldBe("PKGDIR gone");
        (await refresh.GetAsync()).ShouldBe(2);
    }
}
