using Backend.Xen.Xenbus;
using Backend.Actors.Status;
using Backend.Actors.Vif;
using Backend.Xen.Abi;
using Backend.Xen.Netback;

namespace Backend.Actors.Tests.Status;

/// <summary>Linux netback's ethtool counters, counted from a TX packet as Linux counts them.</summary>
public sealed class VifStatusTests
{
    private static TxPacket Packet(int dataSlots, bool gso, bool checksumBlank)
    {
        var extra = gso ? new NetifExtraInfo { Type = NetifExtraType.Gso, GsoType = NetifGsoType.TcpV4, GsoSize = 1448 } : default;
        return new TxPacket(TxOutcome.Packet, TxFault.None, TxError.None, 0, gso ? 1 : 0, dataSlots, 9000, 100,
            checksumBlank ? NetTxFlags.CsumBlank : NetTxFlags.None, extra, default, default, default);
    }

    [Theory]
    [InlineData(true, false, 1)]  // GSO without csum_blank: Linux's checksum_setup fixes it up
    [InlineData(true, true, 0)]
    [InlineData(false, false, 0)] // no GSO: a full checksum, nothing to fix
    public void A_gso_frame_without_csum_blank_counts_rx_gso_checksum_fixup(bool gso, bool checksumBlank, long expected)
    {
        Assert.Equal(expected == 1, Packet(2, gso, checksumBlank).NeedsGsoChecksumFixup);
    }

    [Theory]
    [InlineData(1, 0)]
    [InlineData(18, 0)] // 17 slots after the first: exactly MAX_SKB_FRAGS
    [InlineData(19, 1)] // 18 after the first: one frag too many for a Linux skb
    public void More_slots_after_the_first_than_MAX_SKB_FRAGS_count_tx_frag_overflow(int dataSlots, long expected)
    {
        var packet = Packet(dataSlots, gso: false, checksumBlank: true);
        Assert.Equal(expected == 1, packet.OverflowsSkbFrags);
        Assert.False(packet.NeedsGsoChecksumFixup);
    }
}
