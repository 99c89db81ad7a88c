using System.Buffers.Binary;
using Backend.Xen.Abi;
using Backend.Xen.Netback;
using Backend.Xen.Offload;

namespace Backend.Fuzz.Offload;

/// <summary>
/// The offload code on a frame the input gives: <see cref="FrameLayout"/>, <see cref="ChecksumOffload"/>
/// (checksum fill), <see cref="TcpSegmenter"/> (software GSO) and <see cref="Toeplitz.TryHashFrame"/>.
/// Input: a mode byte (bits 0-1 GSO type, 2-3 checksum state, 4-7 hash types), a flags byte (bit 0: set
/// the IP header's length fields to the frame's, so that mutations keep a frame parseable), the GSO size
/// (u16), then the frame.
/// </summary>
/// <remarks>
/// Invariants: no exception (every refusal is a documented status); a layout lies inside the frame; a
/// checksum fill changes only the checksum fields, and what it stores verifies by an independent sum, and
/// a frame it refuses is left as it was; a segmentation refuses exactly a non-TCP GSO type or a size under
/// the floor, makes at most <see cref="GsoLimits.MaxSegments"/> segments, each within its buffer and the
/// frame's headers plus at most one MSS, parseable, with its lengths, sequence number and checksums right,
/// and the segments' payloads are the frame's payload, in order, to the byte; none of it allocates.
/// </remarks>
public sealed class OffloadTarget : FuzzTarget
{
    private const int MaxFrame = RxPacket.MaxFrameLength;

    // Any key: the hash is checked for not throwing and for agreeing with the layout, not for its value.
    private static readonly byte[] Key = [.. Enumerable.Range(0, 40).Select(i => (byte)(i * 37 + 11))];

    private readonly byte[] _frame = new byte[MaxFrame];
    private readonly byte[] _work = new byte[MaxFrame];
    private readonly byte[] _segment = new byte[MaxFrame];

    public override string Name => "offload";

    protected override void Execute(ReadOnlySpan<byte> input)
    {
        var script = new FuzzInput(input);
        var mode = script.Byte();
        var flags = script.Byte();
        var gsoSize = script.UInt16();
        var body = script.Take(MaxFrame);
        body.CopyTo(_frame);
        var bytes = _frame.AsSpan(0, body.Length);
        if ((flags & 1) != 0)
            FixLengths(bytes);
        var gsoType = (byte)(mode & 3);
        var checksum = (FrameChecksum)((mode >> 2) & 3);
        var hashTypes = (uint)(mode >> 4);

        var allocated = CheckAll(bytes, checksum, gsoType, gsoSize, hashTypes);
        // The promise is about the steady state: a path no seed warmed may allocate once for the runtime's
        // own reasons (a type or a generic instantiation loaded on first use, seen once in a full suite run
        // and never alone), so a path that allocated runs again and fails only if it allocates again.
        if (IsWarm && allocated != 0 && CheckAll(bytes, checksum, gsoType, gsoSize, hashTypes) is var again and not 0)
            throw new InvariantException($"the offload code allocated {again} bytes (and {allocated} the first time)");
    }

    /// <summary>Every check of one input; returns the bytes the calls allocated on this thread.</summary>
    private long CheckAll(ReadOnlySpan<byte> bytes, FrameChecksum checksum, byte gsoType, ushort gsoSize, uint hashTypes)
    {
        var before = GC.GetAllocatedBytesForCurrentThread();
        var parse = CheckLayout(bytes, out var layout);
        CheckChecksum(bytes, checksum, parse, layout);
        CheckSegmentation(bytes, gsoType, gsoSize);
        if (Toeplitz.TryHashFrame(Key, bytes, hashTypes, out _, out _) && parse != FrameParse.Ok)
            throw new InvariantException("a hash of a frame that does not parse");
        return GC.GetAllocatedBytesForCurrentThread() - before;
    }

    private static FrameParse CheckLayout(ReadOnlySpan<byte> bytes, out FrameLayout layout)
    {
        var parse = FrameLayout.TryParse(bytes, out layout);
        if (parse != FrameParse.Ok)
            return parse;
        if (layout.NetworkOffset is not (14 or 18) || layout.IpVersion is not (4 or 6)
            || layout.NetworkHeaderLength < FrameLayout.Ipv4MinHeaderLength
            || layout.TransportOffset > layout.PacketEnd || layout.PacketEnd > bytes.Length)
            throw new InvariantException($"a layout outside the frame: network {layout.NetworkOffset}+{layout.NetworkHeaderLength}, end {layout.PacketEnd} of {bytes.Length}");
        if (FrameLayout.IsIpv6(bytes) != (layout.IpVersion == 6))
            throw new InvariantException("IsIpv6 and the layout disagree");
        return parse;
    }

    private void CheckChecksum(ReadOnlySpan<byte> bytes, FrameChecksum state, FrameParse parse, in FrameLayout layout)
    {
        var filled = _work.AsSpan(0, bytes.Length);
        bytes.CopyTo(filled);
        var outcome = ChecksumOffload.Fill(filled, state);
        if (state != FrameChecksum.Blank && outcome != ChecksumOutcome.NotApplicable)
            throw new InvariantException($"a {state} frame's checksums filled: {outcome}");
        if (outcome is ChecksumOutcome.NotApplicable or ChecksumOutcome.Malformed)
        {
            if (!filled.SequenceEqual(bytes))
                throw new InvariantException($"a frame the fill refused ({outcome}) was changed");
            return;
        }
        if (parse != FrameParse.Ok)
            throw new InvariantException($"{outcome} for a frame that does not parse");

        // Only the checksum fields may differ.
        var ipField = layout.IpVersion == 4 ? layout.NetworkOffset + 10 : -1;
        var transportField = outcome == ChecksumOutcome.Filled
            ? layout.TransportOffset + (layout.TransportProtocol == FrameLayout.ProtocolTcp ? 16 : 6)
            : -1;
        for (var i = 0; i < bytes.Length; i++)
        {
            if (filled[i] != bytes[i] && i != ipField && i != ipField + 1 && i != transportField && i != transportField + 1)
                throw new InvariantException($"the fill ({outcome}) changed byte {i}, not a checksum");
        }
        if (layout.IpVersion == 4 && Sum(filled.Slice(layout.NetworkOffset, layout.NetworkHeaderLength), 0) != 0xFFFF)
            throw new InvariantException("a filled IPv4 header checksum does not verify");
        if (outcome == ChecksumOutcome.Filled)
        {
            if (!TransportVerifies(filled, layout, layout.PacketEnd))
                throw new InvariantException("a filled transport checksum does not verify");
            if (layout.TransportProtocol == FrameLayout.ProtocolUdp && filled[transportField] == 0 && filled[transportField + 1] == 0)
                throw new InvariantException("a filled UDP checksum of 0 (none)");
        }
    }

    private void CheckSegmentation(ReadOnlySpan<byte> bytes, byte gsoType, ushort gsoSize)
    {
        var status = TcpSegmenter.Prepare(bytes, gsoType, gsoSize, out var plan);
        var invalidGso = gsoType is not (NetifGsoType.TcpV4 or NetifGsoType.TcpV6) || gsoSize < GsoLimits.MinSize;
        if (invalidGso != (status == SegmentationStatus.InvalidGso))
            throw new InvariantException($"GSO type {gsoType} size {gsoSize} judged {status}");
        if (status != SegmentationStatus.Ok)
            return;

        var layout = plan.Layout;
        if (plan.SegmentCount is < 1 or > GsoLimits.MaxSegments || plan.Mss != gsoSize || plan.PayloadLength < 0
            || plan.HeaderLength + plan.PayloadLength != layout.PacketEnd || layout.PacketEnd > bytes.Length)
            throw new InvariantException($"a plan of {plan.SegmentCount} segments, {plan.HeaderLength}+{plan.PayloadLength} bytes, for a packet ending at {layout.PacketEnd}");
        var sequence = BinaryPrimitives.ReadUInt32BigEndian(bytes[(layout.TransportOffset + 4)..]);
        var payload = 0;
        for (var i = 0; i < plan.SegmentCount; i++)
        {
            var length = plan.SegmentLength(i);
            if (length <= plan.HeaderLength && plan.PayloadLength > 0 || length > plan.HeaderLength + plan.Mss)
                throw new InvariantException($"segment {i} of {length} bytes with headers of {plan.HeaderLength} and MSS {plan.Mss}");
            var written = TcpSegmenter.WriteSegment(bytes, plan, i, _segment.AsSpan(0, length));
            if (written != length)
                throw new InvariantException($"segment {i}: {written} bytes written for {length}");
            var s = _segment.AsSpan(0, length);
            var chunk = length - plan.HeaderLength;
            if (!s[plan.HeaderLength..].SequenceEqual(bytes.Slice(plan.HeaderLength + payload, chunk)))
                throw new InvariantException($"segment {i}'s payload is not the frame's bytes {payload} to {payload + chunk}");
            payload += chunk;
            if (FrameLayout.TryParse(s, out var own) != FrameParse.Ok || own.IpVersion != layout.IpVersion
                || own.TransportProtocol != FrameLayout.ProtocolTcp || own.PacketEnd != length || own.IsFragment)
                throw new InvariantException($"segment {i} does not parse as the TCP packet it is");
            if (BinaryPrimitives.ReadUInt32BigEndian(s[(layout.TransportOffset + 4)..]) != unchecked(sequence + (uint)(i * plan.Mss)))
                throw new InvariantException($"segment {i}'s sequence number");
            if (layout.IpVersion == 4 && Sum(s.Slice(layout.NetworkOffset, layout.NetworkHeaderLength), 0) != 0xFFFF)
                throw new InvariantException($"segment {i}'s IPv4 header checksum");
            if (!TransportVerifies(s, own, length))
                throw new InvariantException($"segment {i}'s TCP checksum");
        }
        if (payload != plan.PayloadLength)
            throw new InvariantException($"segments carry {payload} payload bytes of {plan.PayloadLength}");
    }

    /// <summary>An independent RFC 1071 check: pseudo-header and segment, stored checksum included, sum to all ones.</summary>
    private static bool TransportVerifies(ReadOnlySpan<byte> bytes, in FrameLayout layout, int packetEnd)
    {
        var ip = bytes.Slice(layout.NetworkOffset, layout.NetworkHeaderLength);
        var segment = bytes[layout.TransportOffset..packetEnd];
        long sum = layout.IpVersion == 4 ? Sum(ip.Slice(12, 8), 0) : Sum(ip.Slice(8, 32), 0);
        sum += layout.TransportProtocol + ((long)segment.Length >> 16) + (segment.Length & 0xFFFF);
        return Fold(Sum(segment, sum)) == 0xFFFF;
    }

    private static long Sum(ReadOnlySpan<byte> bytes, long sum)
    {
        for (var i = 0; i < bytes.Length; i += 2)
            sum += (bytes[i] << 8) | (i + 1 < bytes.Length ? bytes[i + 1] : 0);
        return Fold(sum);
    }

    private static long Fold(long sum)
    {
        while (sum >> 16 != 0)
            sum = (sum & 0xFFFF) + (sum >> 16);
        return sum;
    }

    /// <summary>Makes the IP header's length field say the frame's length (after at most one VLAN tag).</summary>
    private static void FixLengths(Span<byte> bytes)
    {
        if (bytes.Length < 14)
            return;
        var offset = 14;
        var etherType = BinaryPrimitives.ReadUInt16BigEndian(bytes[12..]);
        if (etherType is FrameLayout.EtherTypeVlan or FrameLayout.EtherTypeQinQ && bytes.Length >= 18)
        {
            offset = 18;
            etherType = BinaryPrimitives.ReadUInt16BigEndian(bytes[16..]);
        }
        var ipLength = bytes.Length - offset;
        if (etherType == FrameLayout.EtherTypeIpv4 && ipLength >= 20)
            BinaryPrimitives.WriteUInt16BigEndian(bytes[(offset + 2)..], (ushort)Math.Min(ipLength, 0xFFFF));
        else if (etherType == FrameLayout.EtherTypeIpv6 && ipLength >= 40)
            BinaryPrimitives.WriteUInt16BigEndian(bytes[(offset + 4)..], (ushort)Math.Min(ipLength - 40, 0xFFFF));
    }

    public override IEnumerable<FuzzSeed> Seeds()
    {
        // mode: GSO type | checksum << 2 | hash types << 4; flags bit 0 fixes the IP lengths.
        static FuzzSeed Seed(string name, int gsoType, FrameChecksum checksum, int gsoSize, byte[] frame) =>
            new FuzzScript().Byte(gsoType | ((int)checksum << 2) | (0xF << 4)).Byte(1).UInt16(gsoSize).Bytes(frame).Seed(name);

        yield return Seed("tcp4-blank", 0, FrameChecksum.Blank, 0, Frame(4, FrameLayout.ProtocolTcp, 100));
        yield return Seed("udp4-blank", 0, FrameChecksum.Blank, 0, Frame(4, FrameLayout.ProtocolUdp, 100));
        yield return Seed("tcp6-blank", 0, FrameChecksum.Blank, 0, Frame(6, FrameLayout.ProtocolTcp, 100));
        yield return Seed("udp6-blank-vlan", 0, FrameChecksum.Blank, 0, Frame(6, FrameLayout.ProtocolUdp, 50, vlan: true));
        yield return Seed("icmp4-blank", 0, FrameChecksum.Blank, 0, Frame(4, 1, 56));
        yield return Seed("tcp4-gso", NetifGsoType.TcpV4, FrameChecksum.Blank, 1448, Frame(4, FrameLayout.ProtocolTcp, 9000));
        yield return Seed("tcp6-gso-options", NetifGsoType.TcpV6, FrameChecksum.Blank, 1200, Frame(6, FrameLayout.ProtocolTcp, 5000, tcpOptions: 12));
        // Issue 12 finding 2 on the receive side: a 64 KiB TCP frame with a GSO size of 1, and one just above the floor.
        yield return Seed("tcp4-gso-size-1", NetifGsoType.TcpV4, FrameChecksum.Blank, 1, Frame(4, FrameLayout.ProtocolTcp, 65000));
        yield return Seed("tcp4-gso-floor", NetifGsoType.TcpV4, FrameChecksum.Blank, GsoLimits.MinSize, Frame(4, FrameLayout.ProtocolTcp, 60000));
        yield return Seed("tcp4-gso-empty-payload", NetifGsoType.TcpV4, FrameChecksum.None, 536, Frame(4, FrameLayout.ProtocolTcp, 0));
        yield return Seed("runt", 0, FrameChecksum.Blank, 0, new byte[10]);
    }

    /// <summary>Ethernet (optionally VLAN-tagged), IPv4 or IPv6, and a TCP or UDP (or other) header with a payload.</summary>
    private static byte[] Frame(int ipVersion, byte protocol, int payload, bool vlan = false, int tcpOptions = 0)
    {
        var transport = protocol == FrameLayout.ProtocolTcp ? 20 + tcpOptions : protocol == FrameLayout.ProtocolUdp ? 8 : 8;
        var ethernet = vlan ? 18 : 14;
        var ip = ipVersion == 4 ? 20 : 40;
        var bytes = new byte[ethernet + ip + transport + payload];
        bytes.AsSpan(0, 12).Fill(0x02);
        if (vlan)
            BinaryPrimitives.WriteUInt16BigEndian(bytes.AsSpan(12), FrameLayout.EtherTypeVlan);
        BinaryPrimitives.WriteUInt16BigEndian(bytes.AsSpan(ethernet - 2), ipVersion == 4 ? FrameLayout.EtherTypeIpv4 : FrameLayout.EtherTypeIpv6);
        var h = bytes.AsSpan(ethernet);
        if (ipVersion == 4)
        {
            h[0] = 0x45;
            BinaryPrimitives.WriteUInt16BigEndian(h[2..], (ushort)(ip + transport + payload));
            h[6] = 0x40;
            h[8] = 64;
            h[9] = protocol;
            h.Slice(12, 8).Fill(10);
        }
        else
        {
            h[0] = 0x60;
            BinaryPrimitives.WriteUInt16BigEndian(h[4..], (ushort)(transport + payload));
            h[6] = protocol;
            h[7] = 64;
            h.Slice(8, 32).Fill(0x20);
        }
        var t = h[ip..];
        BinaryPrimitives.WriteUInt16BigEndian(t, 40000);
        BinaryPrimitives.WriteUInt16BigEndian(t[2..], 80);
        if (protocol == FrameLayout.ProtocolTcp)
        {
            BinaryPrimitives.WriteUInt32BigEndian(t[4..], 0xFFFFF000);
            t[12] = (byte)((transport / 4) << 4);
            t[13] = 0x18 | 0x01 | 0x80;
        }
        else if (protocol == FrameLayout.ProtocolUdp)
        {
            BinaryPrimitives.WriteUInt16BigEndian(t[4..], (ushort)(transport + payload));
        }
        for (var i = 0; i < payload; i++)
            t[transport + i] = (byte)(i * 7);
        return bytes;
    }
}
