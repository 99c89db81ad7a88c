using System.Buffers;
using System.Buffers.Binary;
using Backend.Xen.Abi;
using Backend.Xen.Offload;
using static Backend.TestSupport.Packets;

namespace Backend.Xen.Tests.Offload;

public class TcpSegmenterTests
{
    private const byte Fin = 0x01, Psh = 0x08, Ack = 0x10, Cwr = 0x80;
    private const uint FirstSequence = 0xFFFF_F000; // wraps mod 2^32 inside the frame

    [Fact]
    public void Tcpv4_gso_frame_is_cut_into_mss_segments_with_lengths_ids_sequence_flags_and_checksums_fixed()
    {
        byte[] payload = Payload(4000, 4);
        byte[] frame = Ethernet(0x0800, Ipv4(6, Tcp(payload, FirstSequence, (byte)(Fin | Psh | Ack | Cwr)), id: 0xFFFE));

        Assert.Equal(SegmentationStatus.Ok, TcpSegmenter.Prepare(frame, NetifGsoType.TcpV4, 1448, out TcpSegmentation plan));
        Assert.Equal(3, plan.SegmentCount);
        Assert.Equal(14 + 20 + 32, plan.HeaderLength);

        int[] chunks = [1448, 1448, 1104];
        for (int i = 0; i < plan.SegmentCount; i++)
        {
            byte[] buffer = ArrayPool<byte>.Shared.Rent(plan.SegmentLength(i));
            try
            {
                int length = TcpSegmenter.WriteSegment(frame, plan, i, buffer);
                byte[] segment = buffer[..length];
                Assert.Equal(14 + 20 + 32 + chunks[i], length);
                Assert.Equal(20 + 32 + chunks[i], ReadUInt16(segment, 14 + 2));
                Assert.Equal((ushort)(0xFFFE + i), ReadUInt16(segment, 14 + 4));
                Assert.Equal(0, ReferenceChecksum.Verify(segment[14..34]));
                CheckTcp(segment, 34, Ipv4Source, Ipv4Destination, i, chunks, payload, plan.SegmentCount);
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
    }

    [Fact]
    public void Tcpv6_gso_frame_is_cut_into_mss_segments_with_payload_length_sequence_flags_and_checksums_fixed()
    {
        byte[] payload = Payload(3000, 6);
        byte[] frame = Ethernet(0x86DD, Ipv6(6, Tcp(payload, FirstSequence, (byte)(Psh | Ack | Cwr))));

        Assert.Equal(SegmentationStatus.Ok, TcpSegmenter.Prepare(frame, NetifGsoType.TcpV6, 1428, out TcpSegmentation plan));
        Assert.Equal(3, plan.SegmentCount);

        int[] chunks = [1428, 1428, 144];
        var buffer = new byte[plan.SegmentLength(0)];
        for (int i = 0; i < plan.SegmentCount; i++)
        {
            int length = TcpSegmenter.WriteSegment(frame, plan, i, buffer);
            byte[] segment = buffer[..length];
            Assert.Equal(14 + 40 + 32 + chunks[i], length);
            Assert.Equal(32 + chunks[i], ReadUInt16(segment, 14 + 4));
            CheckTcp(segment, 54, Ipv6Source, Ipv6Destination, i, chunks, payload, plan.SegmentCount);
        }
    }

    private static void CheckTcp(byte[] segment, int tcpOffset, byte[] source, byte[] destination, int index, int[] chunks,
        byte[] payload, int count)
    {
        int payloadStart = 0;
        for (int k = 0; k < index; k++)
            payloadStart += chunks[k];
        Assert.Equal(unchecked(FirstSequence + (uint)payloadStart), BinaryPrimitives.ReadUInt32BigEndian(segment.AsSpan(tcpOffset + 4)));
        byte flags = segment[tcpOffset + 13];
        bool last = index == count - 1;
        Assert.True((flags & Psh) != 0 == last, $"segment {index}: PSH only on the last");
        Assert.True((flags & Cwr) != 0 == (index == 0), $"segment {index}: CWR only on the first");
        Assert.True((flags & Ack) != 0, $"segment {index}: ACK kept");
        Assert.Equal(payload.AsSpan(payloadStart, chunks[index]).ToArray(), segment[(tcpOffset + 32)..]);
        byte[] tcp = segment[tcpOffset..];
        Assert.Equal(0, ReferenceChecksum.Verify(ReferenceChecksum.PseudoHeader(source, destination, 6, tcp.Length), tcp));
    }

    [Fact]
    public void Fin_stays_only_on_the_last_segment()
    {
        byte[] frame = Ethernet(0x0800, Ipv4(6, Tcp(Payload(200), flags: Fin | Ack)));
        Assert.Equal(SegmentationStatus.Ok, TcpSegmenter.Prepare(frame, NetifGsoType.TcpV4, 100, out TcpSegmentation plan));
        var buffer = new byte[plan.SegmentLength(0)];

        TcpSegmenter.WriteSegment(frame, plan, 0, buffer);
        Assert.Equal(Ack, buffer[34 + 13]);
        TcpSegmenter.WriteSegment(frame, plan, 1, buffer);
        Assert.Equal(Fin | Ack, buffer[34 + 13]);
    }

    [Fact]
    public void Invalid_gso_or_headers_are_refused()
    {
        byte[] v4 = Ethernet(0x0800, Ipv4(6, Tcp(Payload(100))));
        byte[] udp = Ethernet(0x0800, Ipv4(17, Udp(Payload(100))));

        Assert.Equal(SegmentationStatus.InvalidGso, TcpSegmenter.Prepare(v4, NetifGsoType.TcpV4, 0, out _));
        Assert.Equal(SegmentationStatus.InvalidGso, TcpSegmenter.Prepare(v4, NetifGsoType.None, 100, out _));
        Assert.Equal(SegmentationStatus.InvalidGso, TcpSegmenter.Prepare(v4, 7, 100, out _));
        Assert.Equal(SegmentationStatus.Malformed, TcpSegmenter.Prepare(v4, NetifGsoType.TcpV6, 100, out _));
        Assert.Equal(SegmentationStatus.Malformed, TcpSegmenter.Prepare(udp, NetifGsoType.TcpV4, 100, out _));
        Assert.Equal(SegmentationStatus.Malformed, TcpSegmenter.Prepare(v4[..60], NetifGsoType.TcpV4, 100, out _));
    }

    [Fact]
    public void Gso_size_under_the_floor_or_more_segments_than_the_limit_are_refused()
    {
        byte[] small = Ethernet(0x0800, Ipv4(6, Tcp(Payload(1000))));
        Assert.Equal(SegmentationStatus.InvalidGso, TcpSegmenter.Prepare(small, NetifGsoType.TcpV4, GsoLimits.MinSize - 1, out _));
        Assert.Equal(SegmentationStatus.InvalidGso, TcpSegmenter.Prepare(small, NetifGsoType.TcpV4, 1, out _));

        byte[] atLimit = Ethernet(0x0800, Ipv4(6, Tcp(Payload(GsoLimits.MaxSegments * 100))));
        Assert.Equal(SegmentationStatus.Ok, TcpSegmenter.Prepare(atLimit, NetifGsoType.TcpV4, 100, out TcpSegmentation plan));
        Assert.Equal(GsoLimits.MaxSegments, plan.SegmentCount);
        byte[] overLimit = Ethernet(0x0800, Ipv4(6, Tcp(Payload(GsoLimits.MaxSegments * 100 + 1))));
        Assert.Equal(SegmentationStatus.TooManySegments, TcpSegmenter.Prepare(overLimit, NetifGsoType.TcpV4, 100, out _));
    }

    [Fact]
    public void Too_small_a_buffer_is_refused_before_anything_is_written()
    {
        byte[] frame = Ethernet(0x0800, Ipv4(6, Tcp(Payload(300))));
        Assert.Equal(SegmentationStatus.Ok, TcpSegmenter.Prepare(frame, NetifGsoType.TcpV4, 100, out TcpSegmentation plan));
        var buffer = new byte[plan.SegmentLength(0) - 1];

        Assert.Throws<ArgumentException>(() => TcpSegmenter.WriteSegment(frame, plan, 0, buffer));
        Assert.All(buffer, b => Assert.Equal(0, b));
    }
}
