namespace Backend.Fuzz;

/// <summary>
/// Reads a fuzz input as a little-endian script. Past its end every read gives zeros, so any input is a
/// whole script and a short one simply stops early (callers stop at <see cref="IsEmpty"/>).
/// </summary>
public ref struct FuzzInput(ReadOnlySpan<byte> data)
{
    private ReadOnlySpan<byte> _rest = data;

    public readonly bool IsEmpty => _rest.IsEmpty;

    public readonly int Remaining => _rest.Length;

    public byte Byte()
    {
        if (_rest.IsEmpty)
            return 0;
        var value = _rest[0];
        _rest = _rest[1..];
        return value;
    }

    public ushort UInt16() => (ushort)(Byte() | (Byte() << 8));

    public uint UInt32() => UInt16() | ((uint)UInt16() << 16);

    /// <summary>Fills <paramref name="destination"/>, with zeros past the input's end.</summary>
    public void Bytes(scoped Span<byte> destination)
    {
        var n = Math.Min(destination.Length, _rest.Length);
        _rest[..n].CopyTo(destination);
        destination[n..].Clear();
        _rest = _rest[n..];
    }

    /// <summary>At most <paramref name="count"/> of the next bytes, as they are.</summary>
    public ReadOnlySpan<byte> Take(int count)
    {
        var taken = _rest[..Math.Min(count, _rest.Length)];
        _rest = _rest[taken.Length..];
        return taken;
    }

    /// <summary>Everything left.</summary>
    public ReadOnlySpan<byte> TakeRest() => Take(_rest.Length);
}
