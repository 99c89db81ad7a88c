using System.Buffers.Binary;
using System.Net;
using Backend.Xen.Platform.Sim.Netfront;

namespace Backend.Xen.Tests.Netfront;

public sealed class SimIpResponderTests
{
    private static readonly TimeSpan Timeout = NetfrontSession.Timeout;
    private static readonly byte[] PeerMac = [0x00, 0x16, 0x3e, 0xaa, 0xbb, 0xcc];
    private static readonly byte[] GuestMac = [0x00, 0x16, 0x3e, 0x00, 0x00, 0x09];

    /// <summary>RFC 1071, written out independently of the code under test: the one's complement sum is all ones on a good header.</summary>
    private static bool ChecksumOk(ReadOnlySpan<byte> data)
    {
        uint sum = 0;
        for (var i = 0; i < data.Length; i += 2)
            sum += (uint)(data[i] << 8 | (i + 1 < data.Length ? data[i + 1] : 0));
        while (sum > 0xFFFF)
            sum = (sum & 0xFFFF) + (sum >> 16);
        return sum == 0xFFFF;
    }

    [Fact]
    public void Checksum_matches_the_RFC_1071_example()
    {
        // RFC 1071 section 3: 00 01 f2 03 f4 f5 f6 f7 sums to ddf2, so the checksum is its complement.
        Assert.Equal(0x220d, SimIpv4Frames.Checksum([0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]));
        Assert.Equal(0xFFFF - 0x0100, SimIpv4Frames.Checksum([0x01]));
    }

    [Fact]
    public async Task An_arp_request_for_the_guest_gets_a_reply_with_its_mac()
    {
        await using var s = await NetfrontSession.StartAsync();
        var ip = new SimIpResponder(s.Front, IPAddress.Parse("10.1.0.9"));
        var request = new byte[SimIpv4Frames.ArpFrameLength];
        SimIpv4Frames.WriteArp(request, SimIpv4Frames.ArpRequest, [0xff, 0xff, 0xff, 0xff, 0xff, 0xff], PeerMac, 0x0A010001, new byte[6], 0x0A010009);
        await s.Backend.DeliverRxFrameAsync(request, Timeout);

        var reply = await s.Backend.ReceiveTxFrameAsync(Timeout);
        Assert.Equal(SimIpv4Frames.ArpFrameLength, reply.Length);
        Assert.Equal(PeerMac, reply[..6]);
        Assert.Equal(GuestMac, reply[6..12]);
        Assert.Equal([0x08, 0x06], reply[12..14]);
        Assert.Equal(SimIpv4Frames.ArpReply, BinaryPrimitives.ReadUInt16BigEndian(reply.AsSpan(20)));
        Assert.Equal(GuestMac, reply[22..28]);
        Assert.Equal(0x0A010009u, BinaryPrimitives.ReadUInt32BigEndian(reply.AsSpan(28)));
        Assert.Equal(PeerMac, reply[32..38]);
        Assert.Equal(0x0A010001u, BinaryPrimitives.ReadUInt32BigEndian(reply.AsSpan(38)));
        // Counted before it left: a reply seen is a reply counted, with no wait.
        Assert.Equal(1, ip.ArpAnswered);
    }

    [Fact]
    public async Task An_icmp_echo_request_gets_an_echo_reply_with_valid_checksums_and_the_same_payload()
    {
        await using var s = await NetfrontSession.StartAsync();
        var ip = new SimIpResponder(s.Front, IPAddress.Parse("10.1.0.9"));
        var payload = new byte[1000];
        Random.Shared.NextBytes(payload);
        var request = new byte[14 + 20 + 8 + payload.Length];
        SimIpv4Frames.WriteIcmpEcho(request, SimIpv4Frames.IcmpEchoRequest, GuestMac, PeerMac, 0x0A010001, 0x0A010009, 0x1234, 7, payload, 99);
        Assert.True(ChecksumOk(request.AsSpan(14, 20)) && ChecksumOk(request.AsSpan(34)), "the request built for the test is itself wrong");
        await s.Backend.DeliverRxFrameAsync(request, Timeout);

        var reply = await s.Backend.ReceiveTxFrameAsync(Timeout);
        Assert.Equal(request.Length, reply.Length);
        Assert.Equal(PeerMac, reply[..6]);
        Assert.Equal(GuestMac, reply[6..12]);
        Assert.True(ChecksumOk(reply.AsSpan(14, 20)), "bad IPv4 header checksum in the reply");
        Assert.True(ChecksumOk(reply.AsSpan(34)), "bad ICMP checksum in the reply");
        Assert.Equal(0x0A010009u, BinaryPrimitives.ReadUInt32BigEndian(reply.AsSpan(26)));
        Assert.Equal(0x0A010001u, BinaryPrimitives.ReadUInt32BigEndian(reply.AsSpan(30)));
        Assert.Equal(SimIpv4Frames.IcmpEchoReply, reply[34]);
        Assert.Equal(0x1234, BinaryPrimitives.ReadUInt16BigEndian(reply.AsSpan(38)));
        Assert.Equal(7, BinaryPrimitives.ReadUInt16BigEndian(reply.AsSpan(40)));
        Assert.Equal(payload, reply[42..]);
        Assert.Equal(1, ip.EchoAnswered);
    }

    [Fact]
    public async Task An_echo_request_with_a_bad_checksum_is_ignored_and_other_frames_pass_on()
    {
        await using var s = await NetfrontSession.StartAsync();
        var next = new RecordingConsumer();
        var ip = new SimIpResponder(s.Front, IPAddress.Parse("10.1.0.9"), next);
        var request = new byte[14 + 20 + 8 + 32];
        SimIpv4Frames.WriteIcmpEcho(request, SimIpv4Frames.IcmpEchoRequest, GuestMac, PeerMac, 0x0A010001, 0x0A010009, 1, 1, new byte[32], 1);
        request[^1] ^= 0x40;
        await s.Backend.DeliverRxFrameAsync(request, Timeout);
        var other = new byte[60];
        GuestMac.CopyTo(other, 0);
        other[12] = 0x88;
        other[13] = 0xB5;
        await s.Backend.DeliverRxFrameAsync(other, Timeout);

        Assert.Equal(other, (await next.NextAsync(Timeout)).Frame);
        Assert.Equal(1, ip.BadChecksums);
        Assert.Equal(0, ip.EchoAnswered);
        Assert.Equal(0, s.Front.Counters.Sent);
    }
}
