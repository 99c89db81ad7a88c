using Backend.Xen.Abi;
using Backend.Xen.Offload;
using static Backend.TestSupport.Packets;

namespace Backend.Xen.Tests.Offload;

/// <summary>
/// Guest frames with random bytes flipped and random lengths: nothing may throw (a read outside the frame
/// would), and a frame judged malformed must come back unchanged. Bounded and seeded, so it is fast and
/// a failure repeats.
/// </summary>
public class HostileFrameTests
{
    private static readonly byte[] Key = Convert.FromHexString(
        "6d5a56da255b0ec24167253d43a38fb0d0ca2bcbae7b30b477cb2da38030f20c6a42b73bbeac01fa");

    [Fact]
    public void Mutated_frames_never_make_offload_read_outside_them()
    {
        byte[][] seeds =
        [
            Ethernet(0x0800, Ipv4(6, Tcp(Payload(300)))),
            Ethernet(0x0800, Ipv4(17, Udp(Payload(77)))),
            Ethernet(0x86DD, Ipv6(6, Tcp(Payload(200)))),
            Ethernet(0x86DD, Ipv6(17, Udp(Payload(31)))),
        ];
        var random = new Random(20261125);
        var segment = new byte[2048];
        for (int round = 0; round < 4000; round++)
        {
            byte[] frame = seeds[round % seeds.Length][..random.Next(0, seeds[round % seeds.Length].Length + 1)];
            int flips = random.Next(1, 4);
            for (int f = 0; f < flips && frame.Length > 0; f++)
            {
                // Mostly hit the headers, where lengths and offsets live.
                int at = random.Next(0, Math.Min(frame.Length, 80));
                frame[at] = (byte)random.Next(256);
            }
            byte[] original = (byte[])frame.Clone();

            ChecksumOutcome outcome = ChecksumOffload.FillBlank(frame);
            if (outcome is ChecksumOutcome.Malformed or ChecksumOutcome.NotApplicable)
                Assert.Equal(original, frame);

            Toeplitz.TryHashFrame(Key, original, 0xF, out _, out _);

            if (TcpSegmenter.Prepare(original, NetifGsoType.TcpV4, 100, out TcpSegmentation plan) == SegmentationStatus.Ok
                || TcpSegmenter.Prepare(original, NetifGsoType.TcpV6, 100, out plan) == SegmentationStatus.Ok)
            {
                for (int i = 0; i < plan.SegmentCount; i++)
                    TcpSegmenter.WriteSegment(original, plan, i, segment);
            }
        }
    }
}
