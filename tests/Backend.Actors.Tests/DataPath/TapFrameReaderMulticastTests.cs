using Akka.TestKit.Xunit2;
using Backend.Actors.Bridge;
using Backend.Actors.HostNetwork;
using Backend.Xen.Abi;
using Backend.Xen.Buffers;
using Backend.Xen.Netback;
using Backend.Xen.Platform.Linux;

namespace Backend.Actors.Tests.DataPath;

/// <summary>
/// Under <c>--switch tap</c> the host stack is the switch: a multicast frame it sends to a vif's TAP is
/// dropped before it is copied when the vif's multicast filter refuses it (Linux's xenvif_start_xmit),
/// and counted there; broadcast and unicast pass.
/// </summary>
public sealed class TapFrameReaderMulticastTests : TestKit
{
    private static byte[] Frame(MacAddress destination)
    {
        var frame = new byte[60];
        destination.Write(frame);
        new MacAddress(0x00163E0000AA).Write(frame.AsSpan(6));
        return frame;
    }

    [Fact]
    public void A_multicast_frame_from_the_host_reaches_the_vif_only_when_its_filter_accepts_it()
    {
        using var buffers = new PacketBufferPool();
        var rx = CreateTestProbe();
        var counters = new TapPortCounters();
        var filter = new MulticastFilter();
        filter.Connect(control: true, resumed: false);
        var group = new MacAddress(0x01005E0000FB);
        filter.Add(group);
        var reader = new TapFrameReader(buffers, rx.Ref, counters) { Carrier = true, Multicast = filter };

        foreach (var destination in new[] { group, new MacAddress(0x333300000001), MacAddress.Broadcast, new MacAddress(0x00163E000001) })
            reader.OnFrame(null!, default(VirtioNetHeader), Frame(destination));
        reader.OnReadsDone(null!);

        var batch = rx.ExpectMsg<FrameBatch>();
        var delivered = new List<MacAddress>();
        for (var i = 0; i < batch.Count; i++)
        {
            delivered.Add(MacAddress.Read(batch.Frames[i].Frame));
            batch.Frames[i].Return();
        }
        batch.Release();
        Assert.Equal([group, MacAddress.Broadcast, new MacAddress(0x00163E000001)], delivered);
        Assert.Equal(1, Interlocked.Read(ref filter.Filtered));
        Assert.Equal(4, Interlocked.Read(ref counters.FromHost));
        Assert.Equal(0, Interlocked.Read(ref counters.FromHostDropped));
    }
}
