using System.Buffers.Binary;
using System.Globalization;

namespace Backend.Xen.Abi;

/// <summary>A 48-bit Ethernet address held in the low bits of a ulong, network byte order.</summary>
public readonly record struct MacAddress(ulong Value)
{
    public static readonly MacAddress Broadcast = new(0xFFFF_FFFF_FFFFUL);

    public bool IsMulticast => (Value & 0x0100_0000_0000UL) != 0;

    public static MacAddress Read(ReadOnlySpan<byte> bytes) =>
        new((ulong)BinaryPrimitives.ReadUInt16BigEndian(bytes) << 32 | BinaryPrimitives.ReadUInt32BigEndian(bytes[2..]));

    public void Write(Span<byte> bytes)
    {
        BinaryPrimitives.WriteUInt16BigEndian(bytes, (ushort)(Value >> 32));
        BinaryPrimitives.WriteUInt32BigEndian(bytes[2..], (uint)Value);
    }

    /// <summary>Parses "aa:bb:cc:dd:ee:ff" (the form libxl writes).</summary>
    public static bool TryParse(string? text, out MacAddress mac)
    {
        mac = default;
        if (text is null || text.Length != 17)
            return false;
        ulong value = 0;
        for (var i = 0; i < 6; i++)
        {
            if (i > 0 && text[i * 3 - 1] != ':')
                return false;
            if (!byte.TryParse(text.AsSpan(i * 3, 2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var b))
                return false;
            value = value << 8 | b;
        }
        mac = new MacAddress(value);
        return true;
    }

    public override string ToString() =>
        string.Create(17, Value, static (span, v) =>
        {
            for (var i = 0; i < 6; i++)
            {
                var b = (byte)(v >> (40 - 8 * i));
                if (i > 0)
                    span[i * 3 - 1] = ':';
                b.TryFormat(span.Slice(i * 3, 2), out _, "x2", CultureInfo.InvariantCulture);
            }
        });
}
