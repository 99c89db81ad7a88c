using Backend.Xen.Buffers;

namespace Backend.Xen.Tests.Buffers;

public sealed class PacketBufferPoolTests
{
    [Fact]
    public void Returned_buffers_are_kept_up_to_their_class_byte_budget_and_the_rest_freed()
    {
        using var pool = new PacketBufferPool(keptBytesPerClass: 4 * PacketBufferPool.LargeSize);
        var large = Enumerable.Range(0, 10).Select(_ => pool.Rent(PacketBufferPool.LargeSize)).ToList();
        var small = Enumerable.Range(0, 10).Select(_ => pool.Rent(60)).ToList();
        Assert.Equal(20, pool.Outstanding);
        large.ForEach(b => b.Return());
        small.ForEach(b => b.Return());

        Assert.Equal(0, pool.Outstanding);
        // 4 large buffers fill their class's budget; 10 small ones are far inside theirs.
        Assert.Equal(14, pool.Kept);
        Assert.Equal(4L * PacketBufferPool.LargeSize + 10L * PacketBufferPool.SmallSize, pool.KeptBytes);

        // The kept ones are reused: renting them creates nothing.
        var created = pool.Created;
        var again = Enumerable.Range(0, 4).Select(_ => pool.Rent(30000)).ToList();
        Assert.Equal(created, pool.Created);
        again.ForEach(b => b.Return());
    }

    [Fact]
    public void A_buffer_returned_twice_throws_and_is_kept_once()
    {
        using var pool = new PacketBufferPool();
        var buffer = pool.Rent(100);
        buffer.Return();
        Assert.Throws<InvalidOperationException>(buffer.Return);
        Assert.Equal(0, pool.Outstanding);
        Assert.Equal(1, pool.Kept);
    }
}
