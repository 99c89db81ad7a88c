using Backend.Xen.Abi;
using Backend.Xen.Netback;
using Backend.Xen.Offload;

namespace Backend.Xen.Tests.Netback;

/// <summary>FreeBSD's xnb_ring2pkt_* cases, then the hostile-frontend rules of SIMXEN.</summary>
public sealed class TxPacketParserTests : IDisposable
{
    private readonly TxRingBuilder _ring = new();

    public void Dispose() => _ring.Dispose();

    [Fact]
    public void Ring2pkt_emptyring()
    {
        var packet = _ring.Parse();
        Assert.Equal(TxOutcome.Empty, packet.Outcome);
        Assert.Equal(0, packet.RingSlots);
    }

    [Fact]
    public void Ring2pkt_1req()
    {
        _ring.Request(69).Push();
        var packet = _ring.Parse();
        Assert.Equal(TxOutcome.Packet, packet.Outcome);
        Assert.Equal(1, packet.RingSlots);
        Assert.Equal(1, packet.DataSlots);
        Assert.Equal(69, packet.TotalLength);
        Assert.Equal(69, packet.FirstLength);
        Assert.Equal(NetTxFlags.None, packet.Flags);
        Assert.Equal(0u, packet.Start);
    }

    [Fact]
    public void Ring2pkt_2req()
    {
        _ring.Request(100, NetTxFlags.MoreData).Request(40).Push();
        var packet = _ring.Parse();
        Assert.Equal(TxOutcome.Packet, packet.Outcome);
        Assert.Equal(2, packet.RingSlots);
        Assert.Equal(100, packet.TotalLength);
        Assert.Equal(60, packet.FirstLength);
        Assert.Equal(2, packet.DataSlots);
        Assert.Equal(40, _ring.Slots[1].Size);
    }

    [Fact]
    public void Ring2pkt_3req()
    {
        _ring.Request(200, NetTxFlags.MoreData).Request(40, NetTxFlags.MoreData).Request(50, id: 77).Push();
        var packet = _ring.Parse();
        Assert.Equal(TxOutcome.Packet, packet.Outcome);
        Assert.Equal(3, packet.RingSlots);
        Assert.Equal(200, packet.TotalLength);
        Assert.Equal(110, packet.FirstLength);
        Assert.Equal(77, _ring.Slots[2].Id);
    }

    [Fact]
    public void Ring2pkt_extra()
    {
        _ring.Request(150, NetTxFlags.ExtraInfo | NetTxFlags.MoreData).Gso(250, NetifGsoType.TcpV4).Request(50, id: 5).Push();
        var packet = _ring.Parse();
        Assert.Equal(TxOutcome.Packet, packet.Outcome);
        Assert.Equal(3, packet.RingSlots);
        Assert.Equal(1, packet.ExtraCount);
        Assert.Equal(2, packet.DataSlots);
        Assert.True(packet.HasGso);
        Assert.Equal(250, packet.GsoSize);
        Assert.Equal(NetifGsoType.TcpV4, packet.GsoType);
        Assert.Equal(0, packet.Gso.Flags);
        Assert.Equal(150, packet.TotalLength);
        Assert.Equal(100, packet.FirstLength);
        Assert.Equal(5, _ring.Slots[1].Id);
    }

    [Fact]
    public void Ring2pkt_partial()
    {
        _ring.Request(150, NetTxFlags.MoreData).Push();
        var packet = _ring.Parse();
        Assert.Equal(TxOutcome.Partial, packet.Outcome);
        Assert.Equal(0, packet.RingSlots);
    }

    [Fact]
    public void Ring2pkt_wraps()
    {
        using var ring = new TxRingBuilder(start: 256 - 2);
        ring.Request(550, NetTxFlags.MoreData).Request(100, NetTxFlags.MoreData).Request(50, id: 3).Push();
        var packet = ring.Parse();
        Assert.Equal(TxOutcome.Packet, packet.Outcome);
        Assert.Equal(3, packet.RingSlots);
        Assert.Equal(400, packet.FirstLength);
        Assert.Equal(3, ring.Slots[2].Id);
    }

    [Fact]
    public void Ring2pkt_wraps_across_2_pow_32()
    {
        using var ring = new TxRingBuilder(start: uint.MaxValue - 1);
        ring.Request(550, NetTxFlags.MoreData, id: 1).Request(100, NetTxFlags.MoreData, id: 2).Request(50, id: 3).Push();
        var packet = ring.Parse();
        Assert.Equal(TxOutcome.Packet, packet.Outcome);
        Assert.Equal(uint.MaxValue - 1, packet.Start);
        Assert.Equal(3, packet.RingSlots);
        Assert.Equal(new ushort[] { 1, 2, 3 }, new[] { ring.Slots[0].Id, ring.Slots[1].Id, ring.Slots[2].Id });
    }

    [Fact]
    public void Partial_extra_chain_waits_for_the_rest()
    {
        _ring.Request(100, NetTxFlags.ExtraInfo).Gso(1400, more: true).Push();
        Assert.Equal(TxOutcome.Partial, _ring.Parse().Outcome);
    }

    [Fact]
    public void Partial_packet_completes_once_its_last_slot_is_pushed()
    {
        _ring.Request(100, NetTxFlags.MoreData).Push();
        Assert.Equal(TxOutcome.Partial, _ring.Parse().Outcome);
        _ring.Request(30).Push();
        var packet = _ring.Parse();
        Assert.Equal(TxOutcome.Packet, packet.Outcome);
        Assert.Equal(70, packet.FirstLength);
    }

    [Theory]
    [InlineData(18)]
    [InlineData(19)]
    public void Tx_packet_of_up_to_19_slots_is_valid(int slotCount)
    {
        _ring.Packet(SlotSizes(slotCount)).Push();
        var packet = _ring.Parse();
        Assert.Equal(TxOutcome.Packet, packet.Outcome);
        Assert.Equal(slotCount, packet.DataSlots);
        Assert.Equal(slotCount, packet.RingSlots);
    }

    [Theory]
    [InlineData(20)]
    [InlineData(21)]
    public void Tx_packet_of_20_or_21_slots_is_answered_with_errors(int slotCount)
    {
        _ring.Packet(SlotSizes(slotCount)).Push();
        var packet = _ring.Parse();
        Assert.Equal(TxOutcome.Error, packet.Outcome);
        Assert.Equal(TxError.TooManySlots, packet.Error);
        Assert.Equal(slotCount, packet.RingSlots);
    }

    [Fact]
    public void Tx_packet_of_22_slots_disables_the_vif()
    {
        _ring.Packet(SlotSizes(22)).Push();
        var packet = _ring.Parse();
        Assert.Equal(TxOutcome.Fatal, packet.Outcome);
        Assert.Equal(TxFault.TooManySlots, packet.Fault);
        Assert.Equal(0, packet.RingSlots);
    }

    [Fact]
    public void Tx_packet_of_22_slots_is_fatal_as_soon_as_the_22nd_is_pushed_though_incomplete()
    {
        _ring.Request(1000, NetTxFlags.MoreData);
        for (var i = 1; i < 21; i++)
            _ring.Request(10, NetTxFlags.MoreData);
        // The 21st slot says more follows: the packet is partial, not yet fatal.
        _ring.Push();
        Assert.Equal(TxOutcome.Partial, _ring.Parse().Outcome);
        _ring.Request(10, NetTxFlags.MoreData).Push();
        var packet = _ring.Parse();
        Assert.Equal(TxOutcome.Fatal, packet.Outcome);
        Assert.Equal(TxFault.TooManySlots, packet.Fault);
    }

    [Fact]
    public void Zero_size_middle_slot_is_accepted_and_carries_nothing()
    {
        _ring.Request(100, NetTxFlags.MoreData).Request(0, NetTxFlags.MoreData).Request(40).Push();
        var packet = _ring.Parse();
        Assert.Equal(TxOutcome.Packet, packet.Outcome);
        Assert.Equal(3, packet.DataSlots);
        Assert.Equal(60, packet.FirstLength);
    }

    [Fact]
    public void Slot_larger_than_the_remaining_size_is_answered_with_errors()
    {
        _ring.Request(100, NetTxFlags.MoreData).Request(60, NetTxFlags.MoreData).Request(50).Push();
        var packet = _ring.Parse();
        Assert.Equal(TxOutcome.Error, packet.Outcome);
        Assert.Equal(TxError.SlotLargerThanRemaining, packet.Error);
        Assert.Equal(3, packet.RingSlots);
    }

    [Fact]
    public void Later_slot_crossing_its_page_disables_the_vif()
    {
        _ring.Request(1000, NetTxFlags.MoreData).Request(500, offset: 3700).Push();
        var packet = _ring.Parse();
        Assert.Equal(TxOutcome.Fatal, packet.Outcome);
        Assert.Equal(TxFault.SlotCrossesPage, packet.Fault);
    }

    [Fact]
    public void Later_slot_crossing_its_page_is_fatal_even_while_the_packet_is_partial()
    {
        _ring.Request(1000, NetTxFlags.MoreData).Request(500, NetTxFlags.MoreData, offset: 3700).Push();
        Assert.Equal(TxFault.SlotCrossesPage, _ring.Parse().Fault);
    }

    [Fact]
    public void First_slot_crossing_its_page_disables_the_vif()
    {
        _ring.Request(200, offset: 4000).Push();
        var packet = _ring.Parse();
        Assert.Equal(TxOutcome.Fatal, packet.Outcome);
        Assert.Equal(TxFault.SlotCrossesPage, packet.Fault);
    }

    [Fact]
    public void First_slot_is_checked_against_its_page_by_its_own_share_only()
    {
        // 1000 in all, of which the first slot carries 90: 4000 + 90 stays inside the page.
        _ring.Request(1000, NetTxFlags.MoreData, offset: 4000).Request(910).Push();
        Assert.Equal(TxOutcome.Packet, _ring.Parse().Outcome);
    }

    [Fact]
    public void Slot_ending_exactly_at_the_page_end_is_valid()
    {
        _ring.Request(96, offset: 4000).Push();
        Assert.Equal(TxOutcome.Packet, _ring.Parse().Outcome);
    }

    [Fact]
    public void First_slot_under_14_bytes_is_answered_with_errors()
    {
        _ring.Request(13).Push();
        var packet = _ring.Parse();
        Assert.Equal(TxOutcome.Error, packet.Outcome);
        Assert.Equal(TxError.FirstSlotTooSmall, packet.Error);
        Assert.Equal(1, packet.RingSlots);
    }

    [Fact]
    public void First_slot_whose_own_share_is_under_14_bytes_is_answered_with_errors()
    {
        _ring.Request(100, NetTxFlags.MoreData).Request(90).Push();
        var packet = _ring.Parse();
        Assert.Equal(TxOutcome.Error, packet.Outcome);
        Assert.Equal(TxError.FirstSlotTooSmall, packet.Error);
        Assert.Equal(2, packet.RingSlots);
    }

    [Fact]
    public void First_slot_of_exactly_14_bytes_is_valid()
    {
        _ring.Request(14).Push();
        Assert.Equal(TxOutcome.Packet, _ring.Parse().Outcome);
    }

    [Fact]
    public void Gso_size_0_disables_the_vif()
    {
        _ring.Request(1000, NetTxFlags.ExtraInfo).Gso(0).Push();
        var packet = _ring.Parse();
        Assert.Equal(TxOutcome.Fatal, packet.Outcome);
        Assert.Equal(TxFault.GsoSizeZero, packet.Fault);
    }

    [Theory]
    [InlineData(NetifGsoType.None)]
    [InlineData(3)]
    [InlineData(255)]
    public void Unknown_gso_type_disables_the_vif(byte type)
    {
        _ring.Request(1000, NetTxFlags.ExtraInfo).Gso(1400, type).Push();
        var packet = _ring.Parse();
        Assert.Equal(TxOutcome.Fatal, packet.Outcome);
        Assert.Equal(TxFault.UnknownGsoType, packet.Fault);
    }

    [Fact]
    public void Gso_size_under_the_floor_is_answered_with_errors_and_the_floor_itself_is_valid()
    {
        _ring.Request(1000, NetTxFlags.ExtraInfo).Gso(GsoLimits.MinSize - 1).Push();
        var packet = _ring.Parse();
        Assert.Equal(TxOutcome.Error, packet.Outcome);
        Assert.Equal(TxError.GsoSizeTooSmall, packet.Error);
        Assert.Equal(2, packet.RingSlots);

        using var ring = new TxRingBuilder();
        ring.Request(1000, NetTxFlags.ExtraInfo).Gso(GsoLimits.MinSize).Push();
        Assert.Equal(TxOutcome.Packet, ring.Parse().Outcome);
    }

    [Fact]
    public void Gso_packet_of_more_segments_than_the_limit_is_answered_with_errors()
    {
        // 65535 bytes in 16 page-sized slots; its payload (all but the 54 bytes of the smallest TCP/IPv4
        // headers) cut at 255 bytes is 257 segments, at 256 bytes 256.
        static TxRingBuilder Frame(TxRingBuilder ring, ushort gsoSize)
        {
            ring.Request(65535, NetTxFlags.ExtraInfo | NetTxFlags.MoreData).Gso(gsoSize);
            for (var i = 1; i < 16; i++)
                ring.Request(i < 15 ? (ushort)4096 : (ushort)4095, i < 15 ? NetTxFlags.MoreData : NetTxFlags.None, id: (ushort)i);
            return ring.Push();
        }
        var packet = Frame(_ring, 255).Parse();
        Assert.Equal(TxOutcome.Error, packet.Outcome);
        Assert.Equal(TxError.GsoTooManySegments, packet.Error);
        Assert.Equal(17, packet.RingSlots);

        using var ring = new TxRingBuilder();
        Assert.Equal(TxOutcome.Packet, Frame(ring, 256).Parse().Outcome);
    }

    [Fact]
    public void Gso_size_0_and_unknown_gso_types_stay_fatal_whatever_the_size()
    {
        _ring.Request(65535 - 4096 * 15, NetTxFlags.ExtraInfo).Gso(1, type: 3).Push();
        Assert.Equal(TxFault.UnknownGsoType, _ring.Parse().Fault);

        using var ring = new TxRingBuilder();
        ring.Request(4000, NetTxFlags.ExtraInfo).Gso(1, more: true).Gso(0).Push();
        Assert.Equal(TxFault.GsoSizeZero, ring.Parse().Fault);
    }

    [Fact]
    public void Gso_checks_come_after_the_14_byte_rule()
    {
        _ring.Request(10, NetTxFlags.ExtraInfo).Gso(0).Push();
        var packet = _ring.Parse();
        Assert.Equal(TxOutcome.Error, packet.Outcome);
        Assert.Equal(TxError.FirstSlotTooSmall, packet.Error);
    }

    [Fact]
    public void Gso_checks_come_after_the_slot_checks()
    {
        // A GSO extra of size 0 on a packet of 20 slots: the slot count is judged first.
        using var ring = new TxRingBuilder();
        ring.Request(2000, NetTxFlags.ExtraInfo | NetTxFlags.MoreData).Gso(0);
        for (var i = 1; i < 20; i++)
            ring.Request(10, i < 19 ? NetTxFlags.MoreData : NetTxFlags.None);
        ring.Push();
        Assert.Equal(TxError.TooManySlots, ring.Parse().Error);
    }

    [Fact]
    public void Only_the_last_gso_extra_of_a_packet_counts()
    {
        _ring.Request(1000, NetTxFlags.ExtraInfo).Gso(0, more: true).Gso(1400, NetifGsoType.TcpV6).Push();
        var packet = _ring.Parse();
        Assert.Equal(TxOutcome.Packet, packet.Outcome);
        Assert.Equal(2, packet.ExtraCount);
        Assert.Equal(1400, packet.GsoSize);
        Assert.Equal(NetifGsoType.TcpV6, packet.GsoType);

        using var ring = new TxRingBuilder();
        ring.Request(1000, NetTxFlags.ExtraInfo).Gso(1400, more: true).Gso(0).Push();
        Assert.Equal(TxFault.GsoSizeZero, ring.Parse().Fault);
    }

    [Fact]
    public void Chained_extras_gso_and_hash_are_all_reported()
    {
        var hash = new NetifExtraInfo { Type = NetifExtraType.Hash, HashType = 2, HashAlgorithm = 1, HashValue = 0xA1B2C3D4 };
        _ring.Request(1000, NetTxFlags.ExtraInfo | NetTxFlags.MoreData | NetTxFlags.CsumBlank)
            .Gso(1400, more: true).Extra(hash).Request(300, id: 9).Push();
        var packet = _ring.Parse();
        Assert.Equal(TxOutcome.Packet, packet.Outcome);
        Assert.Equal(2, packet.ExtraCount);
        Assert.Equal(4, packet.RingSlots);
        Assert.True(packet.HasGso);
        Assert.True(packet.HasHash);
        Assert.Equal(0xA1B2C3D4u, packet.Hash.HashValue);
        Assert.True(packet.ChecksumBlank);
        Assert.False(packet.DataValidated);
        Assert.Equal(9, _ring.Slots[1].Id);
    }

    [Fact]
    public void Chained_extras_gso_and_multicast_make_a_multicast_control_request()
    {
        byte[] mac = [0x01, 0x00, 0x5E, 0x00, 0x00, 0xFB];
        _ring.Request(0, NetTxFlags.ExtraInfo, id: 4).Gso(1400, more: true).Multicast(NetifExtraType.MulticastAdd, mac).Push();
        var packet = _ring.Parse();
        Assert.Equal(TxOutcome.MulticastControl, packet.Outcome);
        Assert.Equal(3, packet.RingSlots);
        Assert.True(packet.HasMulticastAdd);
        Assert.False(packet.HasMulticastDel);
        var read = new byte[6];
        TxPacket.CopyMulticastAddress(packet.MulticastAdd, read);
        Assert.Equal(mac, read);
    }

    [Fact]
    public void Multicast_control_request_consumes_only_its_first_slot_and_extras_as_linux_does()
    {
        byte[] mac = [0x33, 0x33, 0, 0, 0, 1];
        _ring.Request(0, NetTxFlags.ExtraInfo | NetTxFlags.MoreData).Multicast(NetifExtraType.MulticastDel, mac).Request(60).Push();
        var packet = _ring.Parse();
        Assert.Equal(TxOutcome.MulticastControl, packet.Outcome);
        Assert.True(packet.HasMulticastDel);
        Assert.Equal(2, packet.RingSlots);
    }

    [Fact]
    public void An_xdp_extra_on_tx_is_taken_and_ignored_as_linux_does()
    {
        // xenvif_get_extras takes any type below XEN_NETIF_EXTRA_TYPE_MAX (6 since the XDP extra).
        var xdp = new NetifExtraInfo { Type = NetifExtraType.Xdp, XdpHeadroom = 256 };
        _ring.Request(1000, NetTxFlags.ExtraInfo | NetTxFlags.MoreData).Extra(xdp).Request(300, id: 9).Push();
        var packet = _ring.Parse();
        Assert.Equal(TxOutcome.Packet, packet.Outcome);
        Assert.Equal(1, packet.ExtraCount);
        Assert.Equal(3, packet.RingSlots);
        Assert.False(packet.HasGso);
    }

    [Theory]
    [InlineData(NetifExtraType.None)]
    [InlineData(NetifExtraType.Max)]
    [InlineData(0xFF)]
    public void Extra_of_type_0_or_unknown_disables_the_vif(byte type)
    {
        _ring.Request(1000, NetTxFlags.ExtraInfo).Extra(new NetifExtraInfo { Type = type }).Push();
        var packet = _ring.Parse();
        Assert.Equal(TxOutcome.Fatal, packet.Outcome);
        Assert.Equal(TxFault.InvalidExtraType, packet.Fault);
    }

    [Fact]
    public void Invalid_extra_is_fatal_even_while_the_chain_is_partial()
    {
        _ring.Request(1000, NetTxFlags.ExtraInfo).Extra(new NetifExtraInfo { Type = 0, Flags = NetifExtraFlags.More }).Push();
        Assert.Equal(TxFault.InvalidExtraType, _ring.Parse().Fault);
    }

    [Theory]
    [InlineData(257u)]
    [InlineData(100_000u)]
    [InlineData(uint.MaxValue)]
    public void Impossible_req_prod_disables_the_vif(uint reqProd)
    {
        _ring.Page.Header.ReqProd = reqProd;
        var packet = _ring.Parse();
        Assert.Equal(TxOutcome.Fatal, packet.Outcome);
        Assert.Equal(TxFault.ImpossibleRequestProducer, packet.Fault);
    }

    [Fact]
    public void Full_ring_of_requests_is_not_an_impossible_req_prod()
    {
        for (var i = 0; i < 256; i++)
            _ring.Request(60);
        _ring.Push();
        Assert.Equal(TxOutcome.Packet, _ring.Parse().Outcome);
    }

    [Fact]
    public void Packet_data_validated_flag_is_reported()
    {
        _ring.Request(100, NetTxFlags.DataValidated).Push();
        var packet = _ring.Parse();
        Assert.True(packet.DataValidated);
        Assert.False(packet.ChecksumBlank);
        Assert.False(packet.HasGso);
        Assert.Equal(NetifGsoType.None, packet.GsoType);
    }

    [Fact]
    public void Parsing_does_not_move_the_ring_indices()
    {
        _ring.Request(100).Push();
        _ring.Parse();
        Assert.Equal(0u, _ring.Back.RequestConsumer);
        Assert.Equal(0u, _ring.Back.ResponseProducer);
    }

    [Fact]
    public void Scratch_shorter_than_21_slots_is_refused()
    {
        var scratch = new NetifTxRequest[20];
        Assert.Throws<ArgumentException>(() => TxPacketParser.Parse(_ring.Back, 0, scratch));
    }

    /// <summary>Sizes of an n-slot packet: each later slot 10 bytes, the first's share 100.</summary>
    internal static ushort[] SlotSizes(int n)
    {
        var sizes = new ushort[n];
        sizes[0] = 100;
        for (var i = 1; i < n; i++)
            sizes[i] = 10;
        return sizes;
    }
}
