using System.Buffers.Binary;

namespace Backend.Fuzz;

/// <summary>Writes an input that <see cref="FuzzInput"/> reads back: how seeds are spelled.</summary>
public sealed class FuzzScript
{
    private readonly List<byte> _bytes = [];

    public FuzzScript Byte(int value)
    {
        _bytes.Add((byte)value);
        return this;
    }

    public FuzzScript UInt16(int value)
    {
        Span<byte> b = stackalloc byte[2];
        BinaryPrimitives.WriteUInt16LittleEndian(b, (ushort)value);
        return Bytes(b);
    }

    public FuzzScript UInt32(uint value)
    {
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(b, value);
        return Bytes(b);
    }

    public FuzzScript Bytes(ReadOnlySpan<byte> value)
    {
        foreach (var b in value)
            _bytes.Add(b);
        return this;
    }

    public byte[] ToArray() => [.. _bytes];

    public FuzzSeed Seed(string name) => new(name, ToArray());
}
