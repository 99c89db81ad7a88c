using System.Runtime.CompilerServices;
using Backend.Xen.Abi;
using Backend.Xen.Netback;
using Backend.Xen.Rings;
using Backend.Xen.Tests.Rings;

namespace Backend.Xen.Tests.Netback;

/// <summary>
/// A TX ring in native memory with a frontend that queues requests and extras, so that a test reads
/// like the packet it puts on the ring.
/// </summary>
public sealed class TxRingBuilder : IDisposable
{
    private readonly NativePage _page = new();
    private readonly NetifTxRequest[] _slots = new NetifTxRequest[TxPacketParser.ScratchSlots];

    public TxRingBuilder(uint start = 0)
    {
        Front = new FrontRing<NetifTxRequest, NetifTxResponse>(_page.Address);
        Front.InitialiseAt(start);
        Back = new BackRing<NetifTxRequest, NetifTxResponse>(_page.Address);
        Back.AttachAtResponseProducer();
    }

    public FrontRing<NetifTxRequest, NetifTxResponse> Front { get; }
    public BackRing<NetifTxRequest, NetifTxResponse> Back { get; }
    public NativePage Page => _page;

    /// <summary>The scratch span the parser fills.</summary>
    public Span<NetifTxRequest> Slots => _slots;

    public TxRingBuilder Request(ushort size, NetTxFlags flags = NetTxFlags.None, ushort id = 0, uint gref = 8, ushort offset = 0)
    {
        Front.WriteRequest(Front.RequestProducer++, new NetifTxRequest { Size = size, Flags = (ushort)flags, Id = id, Gref = gref, Offset = offset });
        return this;
    }

    public TxRingBuilder Extra(NetifExtraInfo extra)
    {
        NetifTxRequest slot = default;
        Unsafe.As<NetifTxRequest, NetifExtraInfo>(ref slot) = extra;
        Front.WriteRequest(Front.RequestProducer++, slot);
        return this;
    }

    public TxRingBuilder Gso(ushort size, byte type = NetifGsoType.TcpV4, bool more = false) =>
        Extra(new NetifExtraInfo { Type = NetifExtraType.Gso, Flags = more ? NetifExtraFlags.More : (byte)0, GsoSize = size, GsoType = type });

    public TxRingBuilder Multicast(byte type, ReadOnlySpan<byte> mac, bool more = false)
    {
        NetifExtraInfo extra = default;
        extra.Type = type;
        extra.Flags = more ? NetifExtraFlags.More : (byte)0;
        var bytes = System.Runtime.InteropServices.MemoryMarshal.AsBytes(new Span<NetifExtraInfo>(ref extra));
        mac.CopyTo(bytes[2..]);
        return Extra(extra);
    }

    /// <summary>A packet of <paramref name="slotSizes"/>.Length data slots: the first announces the total.</summary>
    public TxRingBuilder Packet(params ushort[] slotSizes)
    {
        var total = 0;
        foreach (var s in slotSizes)
            total += s;
        for (var i = 0; i < slotSizes.Length; i++)
        {
            var flags = i < slotSizes.Length - 1 ? NetTxFlags.MoreData : NetTxFlags.None;
            Request(i == 0 ? (ushort)total : slotSizes[i], flags, id: (ushort)(Front.RequestProducer & 0xFFFF), gref: (uint)(100 + i));
        }
        return this;
    }

    public TxRingBuilder Push()
    {
        Front.PushRequestsAndCheckNotify();
        return this;
    }

    public TxPacket Parse() => TxPacketParser.Parse(Back, Back.ReadRequestProducer(), Slots);

    /// <summary>Consumes the packet's slots and answers them, as the ring actor does for a packet that needs no copy.</summary>
    public void ConsumeAndRespond(in TxPacket packet, short status)
    {
        Back.RequestConsumer += (uint)packet.RingSlots;
        TxResponder.Respond(Back, packet, Slots, status);
    }

    /// <summary>The response at <paramref name="offset"/> slots after the frontend's rsp_cons.</summary>
    public NetifTxResponse Response(uint offset) => Front.CopyResponse(Front.ResponseConsumer + offset);

    public void Dispose() => _page.Dispose();
}
