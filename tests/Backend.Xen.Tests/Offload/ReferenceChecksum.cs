namespace Backend.Xen.Tests.Offload;

/// <summary>
/// An independent, deliberately naive RFC 1071 checksum (big-endian 16-bit words, carries folded at the
/// end) to check the optimised one against.
/// </summary>
internal static class ReferenceChecksum
{
    public static ushort Compute(params byte[][] parts)
    {
        var all = new List<byte>();
        foreach (byte[] part in parts)
            all.AddRange(part);
        long sum = 0;
        for (int i = 0; i < all.Count; i += 2)
        {
            int high = all[i];
            int low = i + 1 < all.Count ? all[i + 1] : 0;
            sum += (high << 8) | low;
        }
        while (sum >> 16 != 0)
            sum = (sum & 0xFFFF) + (sum >> 16);
        return (ushort)~sum;
    }

    /// <summary>The checksum a receiver verifies over a region that includes its stored checksum: 0 when right.</summary>
    public static ushort Verify(params byte[][] parts) => Compute(parts);

    public static byte[] PseudoHeader(byte[] source, byte[] destination, byte protocol, int length)
    {
        var bytes = new List<byte>(source);
        bytes.AddRange(destination);
        if (source.Length == 4)
        {
            bytes.AddRange([0, protocol, (byte)(length >> 8), (byte)length]);
        }
        else
        {
            bytes.AddRange([(byte)(length >> 24), (byte)(length >> 16), (byte)(length >> 8), (byte)length, 0, 0, 0, protocol]);
        }
        return [.. bytes];
    }
}
