using Backend.Xen.Abi;
using Backend.Xen.Buffers;
using Backend.Xen.Ctrl;
using Backend.Xen.Netback;
using Backend.Xen.Offload;
using Backend.Xen.Tests.Ctrl;
using Backend.Xen.Xenbus;

namespace Backend.Xen.Tests.Netback;

/// <summary>
/// The hash extra on RX, as Linux's rx.c writes it for a frame whose hash the frontend's configuration
/// calculated (decision 82): XEN_NETIF_EXTRA_TYPE_HASH right after the first data slot, after a GSO extra
/// and before an XDP extra (xenvif_rx_extra_slot writes them in the order of their types), algorithm
/// Toeplitz, the _XEN_NETIF_CTRL_HASH_TYPE_* number, and the hash, checked against Microsoft's RSS
/// verification vectors; none while hashing is off or the frame's flow has no enabled type.
/// </summary>
public sealed class RxHashExtraTests : IDisposable
{
    private const ushort Domid = RxTestRing.FrontendDomid;

    private readonly RxTestRing _ring = new();
    private readonly PacketBufferPool _pool = new();
    private readonly GuestPages _guest = new(Domid);
    private readonly VifHash _hash = new();

    public void Dispose()
    {
        _pool.Dispose();
        _ring.Dispose();
    }

    private uint RspProd => Volatile.Read(ref _ring.Header.RspProd);

    private void Configure(uint algorithm, uint flags) =>
        _hash.Publish(new VifHashConfig(algorithm, flags, (byte[])Frames.RssKey.Clone(), []));

    private RxQueue NewQueue(ushort headroom = 0, bool withCtrlRing = true) =>
        new(_ring.Address, new RxQueueSettings(Domid, 1500,
            new FrontendConfig(TxRingRef: 0, RxRingRef: 0, TxEventChannel: 1, RxEventChannel: 1, SplitEventChannels: false, RxNotify: true,
                ScatterGather: true, GsoTcpV4: true, GsoTcpV6: true, Ipv4ChecksumOffload: true, Ipv6ChecksumOffload: true, XdpHeadroom: headroom),
            512, 1 << 20, 512, Hash: withCtrlRing ? _hash : null), _pool);

    /// <summary>Hands <paramref name="frame"/> to the queue with enough buffers posted and takes one pass; the ring index of its first slot.</summary>
    private uint Deliver(RxQueue queue, byte[] frame, byte gsoType = NetifGsoType.None, ushort gsoSize = 0)
    {
        var buffer = _pool.Rent(frame.Length);
        frame.CopyTo(buffer.Span);
        buffer.Length = frame.Length;
        buffer.GsoType = gsoType;
        buffer.GsoSize = gsoSize;
        // The queue has its own view of the ring: where its responses start is the shared rsp_prod.
        var start = RspProd;
        for (uint i = 0; i < 4; i++)
        {
            var gref = 1000 + start + i;
            _guest.Grant(gref);
            _ring.Post(((ushort)(start + i), gref));
        }
        queue.Accept(buffer);
        Assert.Equal(RxPass.Copy, queue.Collect());
        Assert.True(queue.Copies!.CopyWith(_guest, out _));
        Assert.Equal(1, queue.Complete().Packets);
        return start;
    }

    [Theory]
    [InlineData("66.9.149.187", 2794, "161.142.100.80", 1766, 0x323e8fc2u, 0x51ccc178u)]
    [InlineData("153.39.163.191", 44251, "202.188.127.2", 1303, 0x5d1809c5u, 0x10e828a2u)]
    public void An_ipv4_tcp_frame_carries_the_tcp_hash_or_the_address_hash_as_the_frontend_enabled(
        string source, int sourcePort, string destination, int destinationPort, uint ipv4, uint ipv4Tcp)
    {
        var frame = Frames.Ipv4Tcp(source, sourcePort, destination, destinationPort);
        var queue = NewQueue();
        Configure(NetifCtrlStatus.HashAlgorithmToeplitz, NetifCtrlStatus.HashTypeIpv4 | NetifCtrlStatus.HashTypeIpv4Tcp);

        var at = Deliver(queue, frame);
        Assert.Equal((ushort)NetRxFlags.ExtraInfo, _ring.Response(at).Flags);
        Assert.Equal(frame.Length, _ring.Response(at).Status);
        var extra = _ring.Extra(at + 1);
        Assert.Equal((NetifExtraType.Hash, (byte)0, (byte)1, (byte)NetifCtrlStatus.HashAlgorithmToeplitz, ipv4Tcp),
            (extra.Type, extra.Flags, extra.HashType, extra.HashAlgorithm, extra.HashValue));
        Assert.Equal(at + 2, RspProd);

        Configure(NetifCtrlStatus.HashAlgorithmToeplitz, NetifCtrlStatus.HashTypeIpv4);
        at = Deliver(queue, frame);
        extra = _ring.Extra(at + 1);
        Assert.Equal((NetifExtraType.Hash, (byte)0, ipv4), (extra.Type, extra.HashType, extra.HashValue));
    }

    [Theory]
    [InlineData("3ffe:2501:200:1fff::7", 2794, "3ffe:2501:200:3::1", 1766, 0x2cc18cd5u, 0x40207d3du)]
    [InlineData("3ffe:1900:4545:3:200:f8ff:fe21:67cf", 44251, "fe80::200:f8ff:fe21:67cf", 38024, 0x4b61e985u, 0x02d1feefu)]
    public void An_ipv6_tcp_frame_carries_the_ipv6_hashes(string source, int sourcePort, string destination, int destinationPort,
        uint ipv6, uint ipv6Tcp)
    {
        var frame = Frames.Ipv6Tcp(source, sourcePort, destination, destinationPort);
        var queue = NewQueue();
        Configure(NetifCtrlStatus.HashAlgorithmToeplitz, NetifCtrlStatus.HashTypeIpv6Tcp);
        var extra = _ring.Extra(Deliver(queue, frame) + 1);
        Assert.Equal((NetifExtraType.Hash, (byte)3, ipv6Tcp), (extra.Type, extra.HashType, extra.HashValue));

        Configure(NetifCtrlStatus.HashAlgorithmToeplitz, NetifCtrlStatus.HashTypeIpv6);
        extra = _ring.Extra(Deliver(queue, frame) + 1);
        Assert.Equal((NetifExtraType.Hash, (byte)2, ipv6), (extra.Type, extra.HashType, extra.HashValue));
    }

    [Fact]
    public void The_hash_extra_sits_between_the_gso_extra_and_the_xdp_extra_chained_with_more()
    {
        var frame = Frames.Ipv4Tcp("66.9.149.187", 2794, "161.142.100.80", 1766);
        var queue = NewQueue(headroom: 256);
        Configure(NetifCtrlStatus.HashAlgorithmToeplitz, NetifCtrlStatus.HashTypeIpv4Tcp);

        var at = Deliver(queue, frame, NetifGsoType.TcpV4, 1448);
        Assert.Equal((ushort)(NetRxFlags.ExtraInfo | NetRxFlags.CsumBlank | NetRxFlags.DataValidated), _ring.Response(at).Flags);
        var gso = _ring.Extra(at + 1);
        var hash = _ring.Extra(at + 2);
        var xdp = _ring.Extra(at + 3);
        Assert.Equal((NetifExtraType.Gso, NetifExtraFlags.More), (gso.Type, gso.Flags));
        Assert.Equal((NetifExtraType.Hash, NetifExtraFlags.More, 0x51ccc178u), (hash.Type, hash.Flags, hash.HashValue));
        Assert.Equal((NetifExtraType.Xdp, (byte)0, (ushort)256), (xdp.Type, xdp.Flags, xdp.XdpHeadroom));
        Assert.Equal(at + 4, RspProd);
    }

    [Fact]
    public void No_hash_extra_without_a_ctrl_ring_with_algorithm_none_with_no_types_or_for_a_flow_no_type_covers()
    {
        var tcp4 = Frames.Ipv4Tcp("66.9.149.187", 2794, "161.142.100.80", 1766);
        var arp = Backend.TestSupport.Packets.Ethernet(0x0806, new byte[28]);

        Configure(NetifCtrlStatus.HashAlgorithmToeplitz, NetifCtrlStatus.HashTypeIpv4Tcp);
        var at = Deliver(NewQueue(withCtrlRing: false), tcp4);
        Assert.Equal((ushort)0, _ring.Response(at).Flags);

        var queue = NewQueue();
        Configure(NetifCtrlStatus.HashAlgorithmNone, NetifCtrlStatus.HashTypeIpv4Tcp);
        at = Deliver(queue, tcp4);
        Assert.Equal((ushort)0, _ring.Response(at).Flags);

        Configure(NetifCtrlStatus.HashAlgorithmToeplitz, 0);
        at = Deliver(queue, tcp4);
        Assert.Equal((ushort)0, _ring.Response(at).Flags);

        Configure(NetifCtrlStatus.HashAlgorithmToeplitz, NetifCtrlStatus.HashTypeIpv6 | NetifCtrlStatus.HashTypeIpv6Tcp);
        at = Deliver(queue, tcp4);
        Assert.Equal((ushort)0, _ring.Response(at).Flags);

        Configure(NetifCtrlStatus.HashAlgorithmToeplitz, VifHashConfig.SupportedFlags);
        at = Deliver(queue, arp);
        Assert.Equal((ushort)0, _ring.Response(at).Flags);
        Assert.Equal(at + 1, RspProd);
    }

    [Fact]
    public void Hashing_frames_and_writing_their_extras_allocates_nothing_in_steady_state()
    {
        var frame = Frames.Ipv4Tcp("66.9.149.187", 2794, "161.142.100.80", 1766);
        var queue = NewQueue();
        Configure(NetifCtrlStatus.HashAlgorithmToeplitz, VifHashConfig.SupportedFlags);
        for (uint i = 0; i < 200; i++)
            _guest.Grant(1000 + i);
        _ring.Post([.. Enumerable.Range(0, 200).Select(i => ((ushort)i, 1000u + (uint)i))]);

        void OneFrame()
        {
            var buffer = _pool.Rent(frame.Length);
            frame.CopyTo(buffer.Span);
            buffer.Length = frame.Length;
            queue.Accept(buffer);
            queue.Collect();
            queue.Copies!.CopyWith(_guest, out _);
            queue.Complete();
        }

        for (var i = 0; i < 20; i++)
            OneFrame();
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 60; i++)
            OneFrame();
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(0, allocated);
        Assert.Equal(NetifExtraType.Hash, _ring.Extra(RspProd - 1).Type);
        Assert.Equal(160u, RspProd);
    }

    [Fact]
    public void The_hash_extra_counts_in_the_slots_a_frame_needs()
    {
        uint reqProd = _ring.PostMany(1);
        using var frame = new RxTestFrame(100);
        var plain = frame.Frame(checksum: FrameChecksum.None);
        var hashed = new RxFrame(plain.Address, plain.Length, hasHash: true, hash: 1, hashType: 0);
        Assert.Equal(RxPlanStatus.Ok, RxSlotPlanner.Plan(plain, _ring.Back, reqProd, out _));
        Assert.Equal(RxPlanStatus.NoSpace, RxSlotPlanner.Plan(hashed, _ring.Back, reqProd, out _));
    }
}
