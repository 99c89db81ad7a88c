using System.Buffers.Binary;
using System.Runtime.InteropServices;
using BenchmarkDotNet.Attributes;
using Backend.Xen.Abi;
using Backend.Xen.Grants;
using Backend.Xen.Netback;
using Backend.Xen.Offload;
using Backend.Xen.Rings;

namespace Backend.Benchmarks;

/// <summary>
/// The RX data path per packet: plan slots, plan copies into a batch, respond, push (one push per batch
/// of <see cref="PacketsPerBatch"/> frames). The grant copy itself is not executed: its statuses are
/// set to okay as a copier would. The frontend's posting is one req_prod store per batch.
/// </summary>
[MemoryDiagnoser]
public unsafe class RxBenchmarks
{
    private const int PacketsPerBatch = 32;

    private nint _page;
    private nint _frameMemory;
    private byte[] _tcpFrame = [];
    private BackRing<NetifRxRequest, NetifRxResponse> _ring = null!;
    private RxFrame _frame;
    private readonly GrantCopySegment[] _batch = new GrantCopySegment[2 * 3 * PacketsPerBatch];
    private readonly RxPacket[] _packets = new RxPacket[PacketsPerBatch];
    private int _slotsPerPacket;

    [Params(64, 1500, 9000)]
    public int FrameLength { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _page = (nint)NativeMemory.AlignedAlloc(NetifConstants.PageSize, NetifConstants.PageSize);
        var front = new FrontRing<NetifRxRequest, NetifRxResponse>(_page);
        front.Initialise();
        _ring = new BackRing<NetifRxRequest, NetifRxResponse>(_page);
        _frameMemory = (nint)NativeMemory.AlignedAlloc(16384, NetifConstants.PageSize);
        NativeMemory.Clear((void*)_frameMemory, 16384);
        _frame = new RxFrame(_frameMemory, FrameLength, checksum: FrameChecksum.Blank);
        _slotsPerPacket = (FrameLength + NetifConstants.PageSize - 1) / NetifConstants.PageSize;
        _tcpFrame = BuildTcpFrame(1500);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        NativeMemory.AlignedFree((void*)_page);
        NativeMemory.AlignedFree((void*)_frameMemory);
    }

    [Benchmark(OperationsPerInvoke = PacketsPerBatch)]
    public int RxPlanAndRespond()
    {
        // The frontend posts exactly one batch worth of buffers (it consumed the previous responses).
        uint reqProd = _ring.RequestConsumer + (uint)(_slotsPerPacket * PacketsPerBatch);
        Volatile.Write(ref ((SharedRingHeader*)_page)->ReqProd, reqProd);
        Volatile.Write(ref ((SharedRingHeader*)_page)->RspEvent, _ring.ResponseProducer + 1);

        int used = 0;
        Span<GrantCopySegment> batch = _batch;
        Span<RxPacket> packets = _packets;
        for (int i = 0; i < PacketsPerBatch; i++)
        {
            if (RxSlotPlanner.Plan(_frame, _ring, reqProd, out packets[i]) != RxPlanStatus.Ok
                || !RxCopyPlanner.TryPlan(_frame, ref packets[i], _ring, 1, batch, ref used))
                throw new InvalidOperationException("benchmark ring or batch too small");
        }
        for (int s = 0; s < used; s++)
            batch[s].Status = GrantStatus.Okay;
        int responses = RxResponder.RespondAll(packets, batch[..used], _ring);
        _ring.PushResponsesAndCheckNotify();
        return responses;
    }

    [Benchmark]
    public ChecksumOutcome ChecksumFillTcp1500() => ChecksumOffload.FillBlank(_tcpFrame);

    private static byte[] BuildTcpFrame(int length)
    {
        var frame = new byte[length];
        new Random(1).NextBytes(frame);
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(12), 0x0800);
        frame[14] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(16), (ushort)(length - 14));
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(20), 0x4000);
        frame[23] = 6;
        frame[14 + 20 + 12] = 5 << 4;
        return frame;
    }
}
