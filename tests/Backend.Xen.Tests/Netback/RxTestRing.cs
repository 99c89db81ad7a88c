using System.Runtime.InteropServices;
using Backend.Xen.Abi;
using Backend.Xen.Rings;
using Backend.Xen.Tests.Rings;

namespace Backend.Xen.Tests.Netback;

/// <summary>An RX ring in ordinary memory with both ends: the test plays netfront posting buffers.</summary>
internal sealed class RxTestRing : IDisposable
{
    public const ushort FrontendDomid = 7;

    private readonly NativePage _page = new();

    public RxTestRing(uint start = 0)
    {
        Front = new FrontRing<NetifRxRequest, NetifRxResponse>(_page.Address);
        Front.InitialiseAt(start);
        Back = new BackRing<NetifRxRequest, NetifRxResponse>(_page.Address);
        Back.RequestConsumer = start;
        Back.ResponseProducer = start;
    }

    public FrontRing<NetifRxRequest, NetifRxResponse> Front { get; }
    public BackRing<NetifRxRequest, NetifRxResponse> Back { get; }
    public ref SharedRingHeader Header => ref _page.Header;

    /// <summary>The shared page, for a queue that makes its own back ring on it.</summary>
    public nint Address => _page.Address;

    /// <summary>Posts one request per (id, gref) and pushes them; returns req_prod.</summary>
    public uint Post(params (ushort Id, uint Gref)[] requests)
    {
        foreach ((ushort id, uint gref) in requests)
        {
            Front.WriteRequest(Front.RequestProducer, new NetifRxRequest { Id = id, Gref = gref });
            Front.RequestProducer++;
        }
        Front.PushRequestsAndCheckNotify();
        return Back.ReadRequestProducer();
    }

    /// <summary>Posts <paramref name="count"/> requests with id = 100 + n and gref = 1000 + n.</summary>
    public uint PostMany(int count)
    {
        var requests = new (ushort, uint)[count];
        for (int n = 0; n < count; n++)
            requests[n] = ((ushort)(100 + n), (uint)(1000 + n));
        return Post(requests);
    }

    /// <summary>The response slot at ring index <paramref name="index"/>, read as the frontend would.</summary>
    public NetifRxResponse Response(uint index) => Front.CopyResponse(index);

    public NetifExtraInfo Extra(uint index)
    {
        NetifRxResponse raw = Front.CopyResponse(index);
        return MemoryMarshal.Cast<NetifRxResponse, NetifExtraInfo>(MemoryMarshal.CreateSpan(ref raw, 1))[0];
    }

    /// <summary>The whole shared page, to prove that something left it untouched.</summary>
    public unsafe byte[] Snapshot() => new ReadOnlySpan<byte>((void*)_page.Address, NetifConstants.PageSize).ToArray();

    public void Dispose() => _page.Dispose();
}
