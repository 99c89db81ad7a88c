namespace Backend.Xen.Tests.Netfront;

public sealed class SimNetfrontAllocationTests
{
    [Fact]
    public async Task TrySend_allocates_nothing_once_warm()
    {
        await using var s = await NetfrontSession.StartAsync();
        var frame = new byte[9000];
        // Warm up: the first notification opens the backend's files, the JIT compiles the path.
        for (var i = 0; i < 4; i++)
            Assert.True(s.Front.TrySend(frame));
        var warm = await s.Backend.TakeTxSlotsAsync(12, NetfrontSession.Timeout);
        s.Backend.RespondTx([.. warm.Select(r => (r.Id, (short)0))]);
        await s.Front.WaitForTxIdleAsync(new CancellationTokenSource(NetfrontSession.Timeout).Token);

        long allocated = 0;
        for (var i = 0; i < 80; i++)
        {
            var before = GC.GetAllocatedBytesForCurrentThread();
            var sent = s.Front.TrySend(frame);
            allocated += GC.GetAllocatedBytesForCurrentThread() - before;
            Assert.True(sent, $"frame {i} did not fit");
        }
        Assert.Equal(0, allocated);
    }
}
