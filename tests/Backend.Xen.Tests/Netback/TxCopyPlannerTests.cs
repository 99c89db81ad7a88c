using System.Runtime.InteropServices;
using Backend.Xen.Abi;
using Backend.Xen.Grants;
using Backend.Xen.Netback;

namespace Backend.Xen.Tests.Netback;

/// <summary>
/// FreeBSD's xnb_txpkt2gnttab_*, xnb_pkt2mbufc_* and xnb_update_mbufc_* cases. Our destination is one
/// contiguous local buffer rather than an mbuf chain, so the "cluster" cases become packets larger than
/// one cluster or one page landing contiguously.
/// </summary>
public sealed unsafe class TxCopyPlannerTests : IDisposable
{
    private const ushort FrontendDomId = 7;
    private const int BufferLength = 65536;

    private readonly TxRingBuilder _ring = new();
    private readonly nint _buffer = (nint)NativeMemory.Alloc(BufferLength);
    private readonly GrantCopySegment[] _batch = new GrantCopySegment[64];

    public void Dispose()
    {
        NativeMemory.Free((void*)_buffer);
        _ring.Dispose();
    }

    private int Plan(in TxPacket packet)
    {
        Assert.True(TxCopyPlanner.TryPlan(packet, _ring.Slots, FrontendDomId, _buffer, BufferLength, _batch, out var n));
        return n;
    }

    private static void AssertSegment(in GrantCopySegment s, uint gref, ushort offset, nint dest, int length)
    {
        Assert.Equal(GrantCopySegment.SourceGref, s.Flags);
        Assert.Equal(gref, s.Source.Ref);
        Assert.Equal(offset, s.Source.Offset);
        Assert.Equal(FrontendDomId, s.Source.DomId);
        Assert.Equal(dest, s.Dest.Virt);
        Assert.Equal(length, s.Length);
    }

    [Fact]
    public void Txpkt2gnttab_empty()
    {
        var packet = _ring.Parse();
        Assert.Equal(0, TxCopyPlanner.SegmentCount(packet, _ring.Slots));
        Assert.Throws<ArgumentException>(() => TxCopyPlanner.TryPlan(packet, _ring.Slots, FrontendDomId, _buffer, BufferLength, _batch, out _));
    }

    /// <summary>The original expects the frontend's domain as the destination's; the source is the frontend's grant, the destination is ours.</summary>
    [Fact]
    public void Txpkt2gnttab_short()
    {
        _ring.Request(200, gref: 7, offset: 17).Push();
        var packet = _ring.Parse();
        Assert.Equal(1, Plan(packet));
        AssertSegment(_batch[0], gref: 7, offset: 17, dest: _buffer, length: 200);
    }

    [Fact]
    public void Txpkt2gnttab_2req()
    {
        _ring.Request(1900, NetTxFlags.MoreData, gref: 7).Request(500, gref: 8).Push();
        var packet = _ring.Parse();
        Assert.Equal(2, Plan(packet));
        AssertSegment(_batch[0], gref: 7, offset: 0, dest: _buffer, length: 1400);
        AssertSegment(_batch[1], gref: 8, offset: 0, dest: _buffer + 1400, length: 500);
    }

    [Fact]
    public void Txpkt2gnttab_2cluster()
    {
        // A 9000-byte jumbo frame over three pages: each source stays in its page, the local side is
        // one buffer, so three segments laid end to end.
        _ring.Request(9000, NetTxFlags.MoreData, gref: 20).Request(4096, NetTxFlags.MoreData, gref: 21).Request(808, gref: 22, offset: 100).Push();
        var packet = _ring.Parse();
        Assert.Equal(TxOutcome.Packet, packet.Outcome);
        Assert.Equal(3, Plan(packet));
        AssertSegment(_batch[0], gref: 20, offset: 0, dest: _buffer, length: 4096);
        AssertSegment(_batch[1], gref: 21, offset: 0, dest: _buffer + 4096, length: 4096);
        AssertSegment(_batch[2], gref: 22, offset: 100, dest: _buffer + 8192, length: 808);
    }

    [Fact]
    public void Zero_size_middle_slot_gets_no_segment()
    {
        _ring.Request(100, NetTxFlags.MoreData, gref: 1).Request(0, NetTxFlags.MoreData, gref: 2).Request(40, gref: 3).Push();
        var packet = _ring.Parse();
        Assert.Equal(2, TxCopyPlanner.SegmentCount(packet, _ring.Slots));
        Assert.Equal(2, Plan(packet));
        AssertSegment(_batch[0], gref: 1, offset: 0, dest: _buffer, length: 60);
        AssertSegment(_batch[1], gref: 3, offset: 0, dest: _buffer + 60, length: 40);
    }

    [Fact]
    public void Packet_that_does_not_fit_the_rest_of_the_batch_is_reported_and_nothing_written()
    {
        _ring.Request(1900, NetTxFlags.MoreData, gref: 7).Request(500, gref: 8).Push();
        var packet = _ring.Parse();
        var rest = new GrantCopySegment[1];
        Assert.False(TxCopyPlanner.TryPlan(packet, _ring.Slots, FrontendDomId, _buffer, BufferLength, rest, out var n));
        Assert.Equal(0, n);
        Assert.Equal(default, rest[0].Length);
    }

    [Fact]
    public void Nineteen_slot_packet_fits_a_batch_of_max_segments_per_packet()
    {
        _ring.Packet(TxPacketParserTests.SlotSizes(19)).Push();
        var packet = _ring.Parse();
        var batch = new GrantCopySegment[TxCopyPlanner.MaxSegmentsPerPacket];
        Assert.True(TxCopyPlanner.TryPlan(packet, _ring.Slots, FrontendDomId, _buffer, BufferLength, batch, out var n));
        Assert.Equal(19, n);
    }

    [Fact]
    public void Destination_smaller_than_the_packet_is_refused()
    {
        _ring.Request(1000).Push();
        var packet = _ring.Parse();
        Assert.Throws<ArgumentException>(() => TxCopyPlanner.TryPlan(packet, _ring.Slots, FrontendDomId, _buffer, 999, _batch, out _));
    }

    [Fact]
    public void Planned_segments_are_not_okay_until_the_copier_says_so()
    {
        _ring.Request(100).Push();
        var n = Plan(_ring.Parse());
        Assert.False(TxCopyPlanner.Succeeded(_batch.AsSpan(0, n), out _));
    }

    // pkt2mbufc: what the layer above needs to size and describe the frame.

    [Fact]
    public void Pkt2mbufc_empty()
    {
        var packet = _ring.Parse();
        Assert.Equal(0, packet.TotalLength);
        Assert.Equal(0, packet.DataSlots);
    }

    [Fact]
    public void Pkt2mbufc_short()
    {
        _ring.Request(60).Push();
        var packet = _ring.Parse();
        Assert.Equal(60, packet.TotalLength);
        Assert.Equal(1, Plan(packet));
    }

    [Fact]
    public void Pkt2mbufc_csum()
    {
        _ring.Request(60, NetTxFlags.DataValidated).Push();
        var packet = _ring.Parse();
        Assert.True(packet.DataValidated);
        Assert.False(packet.ChecksumBlank);

        using var ring = new TxRingBuilder();
        ring.Request(60, NetTxFlags.CsumBlank | NetTxFlags.DataValidated).Push();
        var blank = ring.Parse();
        Assert.True(blank.ChecksumBlank);
        Assert.True(blank.DataValidated);
    }

    [Fact]
    public void Pkt2mbufc_1cluster()
    {
        _ring.Request(2048).Push();
        var packet = _ring.Parse();
        Assert.Equal(2048, packet.TotalLength);
        Assert.Equal(1, Plan(packet));
        Assert.Equal(2048, _batch[0].Length);
    }

    [Fact]
    public void Pkt2mbufc_largecluster()
    {
        _ring.Request(2049).Push();
        var packet = _ring.Parse();
        Assert.Equal(1, Plan(packet));
        Assert.Equal(2049, _batch[0].Length);
    }

    [Fact]
    public void Pkt2mbufc_2cluster()
    {
        // 2 * MCLBYTES + 1 cannot sit in one slot (it would cross the page), so two slots.
        _ring.Request(2 * 2048 + 1, NetTxFlags.MoreData).Request(1).Push();
        var packet = _ring.Parse();
        Assert.Equal(4097, packet.TotalLength);
        Assert.Equal(2, Plan(packet));
        Assert.Equal(4097, _batch[0].Length + _batch[1].Length);
    }

    // update_mbufc: reading the copy's outcome.

    [Fact]
    public void Update_mbufc_short()
    {
        _ring.Request(200, gref: 7, offset: 17).Push();
        var n = Plan(_ring.Parse());
        _batch[0].Status = GrantStatus.Okay;
        Assert.True(TxCopyPlanner.Succeeded(_batch.AsSpan(0, n), out var failure));
        Assert.Equal(GrantStatus.Okay, failure);
    }

    [Fact]
    public void Update_mbufc_2req()
    {
        _ring.Request(1900, NetTxFlags.MoreData).Request(500).Push();
        var packet = _ring.Parse();
        var n = Plan(packet);
        _batch[0].Status = GrantStatus.Okay;
        _batch[1].Status = GrantStatus.Okay;
        Assert.True(TxCopyPlanner.Succeeded(_batch.AsSpan(0, n), out _));
        Assert.Equal(1900, _batch[0].Length + _batch[1].Length);
    }

    [Fact]
    public void Update_mbufc_2cluster()
    {
        _ring.Request(9000, NetTxFlags.MoreData).Request(4096, NetTxFlags.MoreData).Request(808).Push();
        var n = Plan(_ring.Parse());
        for (var i = 0; i < n; i++)
            _batch[i].Status = GrantStatus.Okay;
        Assert.True(TxCopyPlanner.Succeeded(_batch.AsSpan(0, n), out _));
    }

    [Fact]
    public void One_failed_segment_fails_the_whole_packet()
    {
        _ring.Request(9000, NetTxFlags.MoreData, id: 1).Request(4096, NetTxFlags.MoreData, id: 2).Request(808, id: 3).Push();
        var packet = _ring.Parse();
        var n = Plan(packet);
        for (var i = 0; i < n; i++)
            _batch[i].Status = GrantStatus.Okay;
        _batch[1].Status = GrantStatus.BadGntref;
        Assert.False(TxCopyPlanner.Succeeded(_batch.AsSpan(0, n), out var failure));
        Assert.Equal(GrantStatus.BadGntref, failure);

        _ring.ConsumeAndRespond(packet, NetifResponseStatus.Error);
        _ring.Back.PushResponsesAndCheckNotify();
        for (uint i = 0; i < 3; i++)
            Assert.Equal(NetifResponseStatus.Error, _ring.Response(i).Status);
    }
}
