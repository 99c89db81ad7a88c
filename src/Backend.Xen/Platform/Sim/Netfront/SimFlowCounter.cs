using System.Buffers.Binary;

namespace Backend.Xen.Platform.Sim.Netfront;

/// <summary>
/// For a multi-queue test: counts the IPv4 frames addressed to one guest that carry a flow number and a
/// sequence number (4 bytes each, big-endian, right after an 8-byte UDP header), and those that came out of
/// order, per sender (the last byte of its address) and flow. Frames for other guests (flooded before the
/// bridge learned them) and anything else are ignored. Called on the guest's event-channel thread.
/// </summary>
/// <param name="address">The guest's IPv4 address.</param>
/// <param name="flows">Flow numbers are 0 to <paramref name="flows"/> − 1.</param>
public sealed class SimFlowCounter(uint address, int flows) : ISimFrameConsumer
{
    private readonly int[] _next = new int[256 * flows];
    private int _received;
    private int _outOfOrder;

    public int Received => Volatile.Read(ref _received);

    public int OutOfOrder => Volatile.Read(ref _outOfOrder);

    public void OnFrame(ReadOnlySpan<byte> frame, in SimRxFrameInfo info)
    {
        // Ethernet (14), IPv4 without options (20), UDP (8), flow (4), sequence (4).
        if (frame.Length < 50 || BinaryPrimitives.ReadUInt16BigEndian(frame[12..]) != 0x0800 || frame[14] != 0x45
            || BinaryPrimitives.ReadUInt32BigEndian(frame[30..]) != address)
            return;
        var flow = BinaryPrimitives.ReadInt32BigEndian(frame[42..]);
        var seq = BinaryPrimitives.ReadInt32BigEndian(frame[46..]);
        if ((uint)flow >= (uint)(_next.Length / 256))
            return;
        var key = (frame[29] * (_next.Length / 256)) + flow;
        if (seq != _next[key])
            Interlocked.Increment(ref _outOfOrder);
        _next[key] = seq + 1;
        Interlocked.Increment(ref _received);
    }
}
