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
    public void Trim_gives_back_every_kept_buffer_and_a_buffer_still_out_comes_back_as_usual()
    {
        using var pool = new PacketBufferPool();
        var buffers = new[] { pool.Rent(60), pool.Rent(9000), pool.Rent(PacketBufferPool.LargeSize), pool.Rent(60) };
        var stillOut = pool.Rent(1500);
        foreach (var b in buffers)
            b.Return();
        Assert.Equal(4, pool.Kept);

        Assert.Equal(2L * PacketBufferPool.SmallSize + PacketBufferPool.MediumSize + PacketBufferPool.LargeSize, pool.Trim());
        Assert.Equal(0, pool.Kept);
        Assert.Equal(0, pool.KeptBytes);
        Assert.Equal(1, pool.Outstanding);

        stillOut.Return();
        Assert.Equal((1, 0), (pool.Kept, pool.Outstanding));
        // A rent after the trim allocates anew.
        var created = pool.Created;
        pool.Rent(60).Return();
        pool.Rent(60).Return();
        Assert.Equal(created, pool.Created);
        pool.Rent(9000).Return();
        Assert.Equal(created + 1, pool.Created);
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
