using System.Runtime.InteropServices;
using Backend.Xen.Abi;
using Backend.Xen.Grants;
using Backend.Xen.Netback;
using Backend.Xen.Rings;
using BenchmarkDotNet.Attributes;

namespace Backend.Benchmarks;

/// <summary>
/// The TX data path per packet: parse the slots off the ring, plan the grant copies, write the responses,
/// then one push per ring drain. The copy itself is not executed. Each round restores the ring page as the
/// frontend left it (one 4 KiB memcpy per 64 packets, included in the figure) and drains 64 packets.
/// </summary>
[MemoryDiagnoser]
public unsafe class TxBenchmarks
{
    private const int PacketsPerRound = 64;
    private const int Rounds = 16;
    private const ushort FrontendDomId = 1;

    private nint _page;
    private nint _buffer;
    private byte[] _template = [];
    private BackRing<NetifTxRequest, NetifTxResponse> _back = null!;
    private readonly NetifTxRequest[] _slots = new NetifTxRequest[TxPacketParser.ScratchSlots];
    private readonly GrantCopySegment[] _batch = new GrantCopySegment[64];

    [Params(64, 1500, 9000)]
    public int PacketBytes { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _page = (nint)NativeMemory.AlignedAlloc(NetifConstants.PageSize, NetifConstants.PageSize);
        _buffer = (nint)NativeMemory.Alloc(65536);
        var front = new FrontRing<NetifTxRequest, NetifTxResponse>(_page);
        front.Initialise();
        for (var p = 0; p < PacketsPerRound; p++)
        {
            // A jumbo frame spans whole pages, then the rest, as netfront lays it out.
            var remaining = PacketBytes;
            var first = true;
            while (remaining > 0)
            {
                var size = Math.Min(remaining, NetifConstants.PageSize);
                remaining -= size;
                var flags = remaining > 0 ? NetTxFlags.MoreData : NetTxFlags.None;
                front.WriteRequest(front.RequestProducer, new NetifTxRequest
                {
                    Gref = 1000 + front.RequestProducer,
                    Id = (ushort)front.RequestProducer,
                    Flags = (ushort)(flags | NetTxFlags.CsumBlank),
                    Size = (ushort)(first ? PacketBytes : size),
                });
                front.RequestProducer++;
                first = false;
            }
        }
        front.PushRequestsAndCheckNotify();
        _template = new Span<byte>((void*)_page, NetifConstants.PageSize).ToArray();
        _back = new BackRing<NetifTxRequest, NetifTxResponse>(_page);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        NativeMemory.AlignedFree((void*)_page);
        NativeMemory.Free((void*)_buffer);
    }

    [Benchmark(OperationsPerInvoke = PacketsPerRound * Rounds)]
    public int ParsePlanRespond()
    {
        var segments = 0;
        for (var round = 0; round < Rounds; round++)
            segments += DrainOnce();
        return segments;
    }

    private int DrainOnce()
    {
        _template.CopyTo(new Span<byte>((void*)_page, NetifConstants.PageSize));
        _back.AttachAtResponseProducer();

        var reqProd = _back.ReadRequestProducer();
        var used = 0;
        var packets = 0;
        while (true)
        {
            var packet = TxPacketParser.Parse(_back, reqProd, _slots);
            if (packet.Outcome != TxOutcome.Packet)
                break;
            if (!TxCopyPlanner.TryPlan(packet, _slots, FrontendDomId, _buffer, 65536, _batch.AsSpan(used), out var n))
            {
                // Where the ring actor would run the batch's copies.
                used = 0;
                TxCopyPlanner.TryPlan(packet, _slots, FrontendDomId, _buffer, 65536, _batch, out n);
            }
            used += n;
            _back.RequestConsumer += (uint)packet.RingSlots;
            TxResponder.Respond(_back, packet, _slots, NetifResponseStatus.Okay);
            packets++;
        }
        _back.PushResponsesAndCheckNotify();
        if (packets != PacketsPerRound)
            throw new InvalidOperationException($"drained {packets} packets, expected {PacketsPerRound}");
        return used;
    }
}
