using System.Collections.Concurrent;
using System.Net;
using System.Text.Json;
using Backend.Host.Tests.Support;
using Backend.Xen.Abi;
using Backend.Xen.Offload;
using Backend.Xen.Platform.Sim;
using Backend.Xen.Platform.Sim.Netfront;
using Backend.Xen.Platform.Sim.Toolstack;
using Backend.Xen.XenStore;

namespace Backend.Host.Tests.EndToEnd;

/// <summary>
/// The daemon run as SIMXEN's outside launcher runs it, with a frontend that has a control ring beside one
/// that has none (decision 82): the handshake with <c>ctrl-ring-ref</c> and <c>event-channel-ctrl</c>, hash
/// algorithm, key, types and mapping set over the ring, hostile requests answered with Linux's statuses,
/// RX frames carrying the Toeplitz hash extra (checked against the known-vector-tested <see cref="Toeplitz"/>
/// and Microsoft's published value), <c>/status</c> showing it, and the other frontend unchanged.
/// </summary>
public sealed class CtrlRingEndToEndTests
{
    private static readonly TimeSpan Start = TimeSpan.FromSeconds(60);
    private const ushort Plain = 45;
    private const ushort Rss = 46;
    private static readonly byte[] RssKey = Convert.FromHexString(
        "6d5a56da255b0ec24167253d43a38fb0d0ca2bcbae7b30b477cb2da38030f20c6a42b73bbeac01fa");

    [Fact]
    public async Task A_frontend_with_a_ctrl_ring_sets_toeplitz_hashing_and_gets_hash_extras_takes_tx_hash_extras_and_one_without_is_unchanged()
    {
        using var root = new SimTestRoot();
        await using var daemon = DaemonProcess.Start("--sim-root", root.Path);
        var url = (await daemon.WaitForLineAsync("ADMIN_URL=", Start))["ADMIN_URL=".Length..];
        await daemon.WaitForLineAsync("READY", Start);
        using var http = new HttpClient { BaseAddress = new Uri(url) };
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(90));

        var socket = Path.Combine(root.Path, "xenstored.sock");
        await using var xs = await XenStoreClient.ConnectAsync(socket);
        var toolstack = new SimToolstack(xs);
        await toolstack.CreateVifAsync(new SimVifSpec { GuestDomId = Plain, Handle = 0, Mac = "00:16:3e:00:00:45" });
        await toolstack.CreateVifAsync(new SimVifSpec { GuestDomId = Rss, Handle = 0, Mac = "00:16:3e:00:00:46" });
        var simRoot = new SimRoot(root.Path);
        await using var xs1 = await XenStoreClient.ConnectAsync(socket);
        await using var xs2 = await XenStoreClient.ConnectAsync(socket);
        var plainFrames = new Frames();
        var rssFrames = new Frames();
        await using var plain = await SimNetfront.StartAsync(new SimNetfrontOptions { Root = simRoot, DomId = Plain }, xs1, plainFrames);
        await using var rss = await SimNetfront.StartAsync(new SimNetfrontOptions { Root = simRoot, DomId = Rss, CtrlRing = true }, xs2, rssFrames);
        await plain.WaitForConnectedAsync(cts.Token);
        await rss.WaitForConnectedAsync(cts.Token);

        Assert.Equal("1", await xs.ReadAsync($"{SimToolstack.BackendPath(0, Rss, 0)}/feature-ctrl-ring"));
        Assert.True(rss.HasCtrlRing);
        Assert.False(plain.HasCtrlRing);
        Assert.Equal(JsonValueKind.Null, (await StatusJson.VifAsync(http, Plain)).GetProperty("ctrlRing").ValueKind);
        Assert.Equal("none", (await StatusJson.VifAsync(http, Rss)).GetProperty("ctrlRing").GetProperty("hashAlgorithm").GetString());

        // The handshake of an RSS frontend, as Windows PV drivers make it.
        await Expect(NetifCtrlStatus.NotSupported, rss.CtrlRequestAsync(NetifCtrlType.GetHashFlags, cancellationToken: cts.Token));
        await Expect(NetifCtrlStatus.Success, rss.CtrlRequestAsync(NetifCtrlType.SetHashAlgorithm, NetifCtrlStatus.HashAlgorithmToeplitz, cancellationToken: cts.Token));
        var flags = await rss.CtrlRequestAsync(NetifCtrlType.GetHashFlags, cancellationToken: cts.Token);
        Assert.Equal((NetifCtrlStatus.Success, 0xFu), (flags.Status, flags.Data));
        await Expect(NetifCtrlStatus.Success, rss.SetHashKeyAsync(RssKey, cts.Token));
        await Expect(NetifCtrlStatus.Success, rss.CtrlRequestAsync(NetifCtrlType.SetHashFlags, NetifCtrlStatus.HashTypeIpv4 | NetifCtrlStatus.HashTypeIpv4Tcp, cancellationToken: cts.Token));
        var size = await rss.CtrlRequestAsync(NetifCtrlType.GetHashMappingSize, cancellationToken: cts.Token);
        Assert.Equal((NetifCtrlStatus.Success, 128u), (size.Status, size.Data));
        await Expect(NetifCtrlStatus.Success, rss.CtrlRequestAsync(NetifCtrlType.SetHashMappingSize, 8, cancellationToken: cts.Token));
        await Expect(NetifCtrlStatus.Success, rss.SetHashMappingAsync(new uint[8], 0, cts.Token));

        // Hostile requests: each answered, as Linux answers it, and the ring goes on.
        await Expect(NetifCtrlStatus.InvalidParameter, rss.CtrlRequestAsync(NetifCtrlType.SetHashKey, rss.CtrlDataRef, 41, cancellationToken: cts.Token));
        await Expect(NetifCtrlStatus.InvalidParameter, rss.CtrlRequestAsync(NetifCtrlType.SetHashKey, 8191, 40, cancellationToken: cts.Token));
        await Expect(NetifCtrlStatus.InvalidParameter, rss.CtrlRequestAsync(NetifCtrlType.SetHashKey, uint.MaxValue, 40, cancellationToken: cts.Token));
        await Expect(NetifCtrlStatus.InvalidParameter, rss.SetHashMappingAsync([1], 0, cts.Token)); // one queue: entry 1 is too many
        await Expect(NetifCtrlStatus.InvalidParameter, rss.SetHashMappingAsync([0, 0], 7, cts.Token));
        await Expect(NetifCtrlStatus.InvalidParameter, rss.CtrlRequestAsync(NetifCtrlType.SetHashMapping, rss.CtrlDataRef, 1, uint.MaxValue, cts.Token));
        await Expect(NetifCtrlStatus.InvalidParameter, rss.CtrlRequestAsync(NetifCtrlType.SetHashMappingSize, 129, cancellationToken: cts.Token));
        await Expect(NetifCtrlStatus.InvalidParameter, rss.CtrlRequestAsync(NetifCtrlType.SetHashAlgorithm, 7, cancellationToken: cts.Token));
        await Expect(NetifCtrlStatus.InvalidParameter, rss.CtrlRequestAsync(NetifCtrlType.SetHashFlags, 0x10, cancellationToken: cts.Token));
        await Expect(NetifCtrlStatus.NotSupported, rss.CtrlRequestAsync(NetifCtrlType.AddGrefMapping, rss.CtrlDataRef, 1, cancellationToken: cts.Token));
        await Expect(NetifCtrlStatus.NotSupported, rss.CtrlRequestAsync(0xBEEF, 1, 2, 3, cts.Token));

        var ctrl = (await StatusJson.VifAsync(http, Rss)).GetProperty("ctrlRing");
        Assert.Equal("toeplitz", ctrl.GetProperty("hashAlgorithm").GetString());
        Assert.Equal("ipv4,ipv4-tcp", ctrl.GetProperty("hashFlags").GetString());
        Assert.Equal(8, ctrl.GetProperty("hashMappingSize").GetInt32());
        Assert.Equal(19, ctrl.GetProperty("requests").GetInt64());
        Assert.Equal(12, ctrl.GetProperty("refused").GetInt64());
        Assert.False((await StatusJson.VifAsync(http, Rss)).GetProperty("disabled").GetBoolean());

        // A TCP frame to the RSS frontend carries the hash of its flow; a non-IP one carries none.
        byte[] src = IPAddress.Parse("66.9.149.187").GetAddressBytes(), dst = IPAddress.Parse("161.142.100.80").GetAddressBytes();
        var tcp = TcpFrame(PlainMac, src, 2794, dst, 1766);
        await plain.SendAsync(tcp, default, cts.Token);
        await plain.SendAsync(Packets.Ethernet(Broadcast, PlainMac, 0x88B5, new byte[46]), default, cts.Token);
        var (tcpInfo, otherInfo) = await TwoFramesAsync(rssFrames, cts.Token);
        Assert.True(tcpInfo.HasHash, "the TCP frame came without a hash extra");
        Assert.Equal(((byte)1, (byte)NetifCtrlStatus.HashAlgorithmToeplitz), (tcpInfo.HashType, tcpInfo.HashAlgorithm));
        Assert.Equal(Toeplitz.HashIpv4Tcp(RssKey, src, dst, 2794, 1766), tcpInfo.Hash);
        Assert.Equal(0x51ccc178u, tcpInfo.Hash);
        Assert.False(otherInfo.HasHash);

        // Address types only: the IPv4 hash (Microsoft's 0x323e8fc2).
        await Expect(NetifCtrlStatus.Success, rss.CtrlRequestAsync(NetifCtrlType.SetHashFlags, NetifCtrlStatus.HashTypeIpv4, cancellationToken: cts.Token));
        await plain.SendAsync(tcp, default, cts.Token);
        var ipv4Info = await OneFrameAsync(rssFrames, cts.Token);
        Assert.Equal((true, (byte)0, Toeplitz.HashIpv4(RssKey, src, dst)), (ipv4Info.HasHash, ipv4Info.HashType, ipv4Info.Hash));
        Assert.Equal(0x323e8fc2u, ipv4Info.Hash);

        // The frontend without a ctrl ring gets the same frame as before: no extra at all.
        await rss.SendAsync(TcpFrame(RssMac, dst, 1766, src, 2794), default, cts.Token);
        var plainInfo = await OneFrameAsync(plainFrames, cts.Token);
        Assert.False(plainInfo.HasHash);
        Assert.Equal(NetRxFlags.None, plainInfo.Flags & NetRxFlags.ExtraInfo);

        // A frontend that sends the hash of its frame in a TX hash extra (as Windows PV drivers do) is served
        // as before: the frame goes through, nothing is disabled.
        await rss.SendAsync(TcpFrame(RssMac, dst, 1766, src, 2794), new SimTxOptions { HasHash = true, HashType = 1, HashValue = 0x12345678 }, cts.Token);
        plainInfo = await OneFrameAsync(plainFrames, cts.Token);
        Assert.False(plainInfo.HasHash);
        await rss.WaitForTxIdleAsync(cts.Token);
        Assert.Equal(0, rss.Counters.TxErrors);
        Assert.False((await StatusJson.VifAsync(http, Rss)).GetProperty("disabled").GetBoolean());
    }

    private static readonly byte[] Broadcast = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
    private static readonly byte[] PlainMac = [0x00, 0x16, 0x3e, 0x00, 0x00, 0x45];
    private static readonly byte[] RssMac = [0x00, 0x16, 0x3e, 0x00, 0x00, 0x46];

    private static byte[] TcpFrame(byte[] mac, byte[] source, ushort sourcePort, byte[] destination, ushort destinationPort)
    {
        var tcp = Packets.Tcp([1, 2, 3]);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16BigEndian(tcp.AsSpan(0), sourcePort);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16BigEndian(tcp.AsSpan(2), destinationPort);
        var ip = Packets.Ipv4(6, tcp);
        source.CopyTo(ip, 12);
        destination.CopyTo(ip, 16);
        return Packets.Ethernet(Broadcast, mac, 0x0800, ip);
    }

    private static async Task Expect(uint status, Task<NetifCtrlResponse> request)
    {
        var response = await request;
        Assert.True(status == response.Status, $"ctrl request type {response.Type}: status {response.Status}, expected {status}");
    }

    private static async Task<(SimRxFrameInfo, SimRxFrameInfo)> TwoFramesAsync(Frames frames, CancellationToken cancellationToken) =>
        (await OneFrameAsync(frames, cancellationToken), await OneFrameAsync(frames, cancellationToken));

    private static async Task<SimRxFrameInfo> OneFrameAsync(Frames frames, CancellationToken cancellationToken)
    {
        while (true)
        {
            if (frames.Received.TryDequeue(out var info))
                return info;
            await Task.Delay(10, cancellationToken);
        }
    }

    /// <summary>What came with each frame a guest received, in order.</summary>
    private sealed class Frames : ISimFrameConsumer
    {
        public ConcurrentQueue<SimRxFrameInfo> Received { get; } = new();

        public void OnFrame(ReadOnlySpan<byte> frame, in SimRxFrameInfo info) => Received.Enqueue(info);
    }
}
