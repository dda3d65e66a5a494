using Gentoo.Runtime;

namespace Gentoo.Operator.Tests.Runtime;

public sealed class WorkQueueTests
{
    private static WorkQueue<string> NewQueue() => new(TimeProvider.System, TimeSpan.FromMilliseconds(5), TimeSpan.FromSeconds(10));

    [Fact]
    public async Task Duplicate_adds_collapse_into_one_waiting_key()
    {
        using var queue = NewQueue();
        queue.Add("a");
        queue.Add("a");
        queue.Add("b");

        queue.Depth.ShouldBe(2);
        (await queue.TakeAsync(CancellationToken.None)).ShouldBe("a");
        (await queue.TakeAsync(CancellationToken.None)).ShouldBe("b");
    }

    [Fact]
    public async Task Key_added_while_processing_is_handed_out_again_only_after_done()
    {
        using var queue = NewQueue();
        queue.Add("a");
        var key = await queue.TakeAsync(CancellationToken.None);

        queue.Add("a");
        queue.Depth.ShouldBe(0, "a key in processing must not be handed to a second worker");

        queue.Done(key!);
        queue.Depth.ShouldBe(1);
        (await queue.TakeAsync(CancellationToken.None)).ShouldBe("a");
    }

    [Fact]
    public void Backoff_doubles_per_failure_up_to_the_cap_and_forget_resets_it()
    {
        using var queue = new WorkQueue<string>(TimeProvider.System, TimeSpan.FromMilliseconds(5), TimeSpan.FromMilliseconds(100));

        var delays = Enumerable.Range(0, 7).Select(_ => queue.AddRateLimited("a").TotalMilliseconds).ToList();

        delays.ShouldBe([5, 10, 20, 40, 80, 100, 100]);
        queue.Forget("a");
        queue.AddRateLimited("a").TotalMilliseconds.ShouldBe(5);
        queue.AddRateLimited("b").TotalMilliseconds.ShouldBe(5, "backoff is per key");
    }

    [Fact]
    public async Task Delayed_add_arrives_after_its_delay()
    {
        using var queue = NewQueue();
        var started = DateTime.UtcNow;

        queue.AddAfter("a", TimeSpan.FromMilliseconds(150));
        queue.Depth.ShouldBe(0);
        (await queue.TakeAsync(CancellationToken.None)).ShouldBe("a");

        (DateTime.UtcNow - started).TotalMilliseconds.ShouldBeGreaterThanOrEqualTo(140);
    }

    [Fact]
    public async Task Shut_down_queue_releases_waiting_workers()
    {
        using var queue = NewQueue();
        var waiting = queue.TakeAsync(CancellationToken.None);

        queue.ShutDown();

        (await waiting.WaitAsync(TimeSpan.FromSeconds(5))).ShouldBeNull();
    }
}
