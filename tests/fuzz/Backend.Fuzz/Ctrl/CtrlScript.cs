using Op = Backend.Fuzz.Ctrl.CtrlRingTarget.Op;

namespace Backend.Fuzz.Ctrl;

/// <summary>
/// How the <c>ctrl</c> target's seeds are spelled: each method writes one operation of
/// <see cref="CtrlRingTarget.Op"/> with its operands encoded as the target reads them back, so that a seed
/// reads as the requests and grants it makes.
/// </summary>
internal static class CtrlScript
{
    /// <summary>A value as the target reads it: an index into <see cref="CtrlRingTarget.Interesting"/>, a small number, or a raw u32.</summary>
    public static FuzzScript Value(this FuzzScript script, uint value)
    {
        var interesting = Array.IndexOf(CtrlRingTarget.Interesting, value);
        if (interesting >= 0)
            return script.Byte(interesting);
        return value < 0xF0 - 0x40 ? script.Byte(0x40 + (int)value) : script.Byte(0xF0).UInt32(value);
    }

    /// <summary>A request into the next slot, pushed.</summary>
    public static FuzzScript Request(this FuzzScript script, ushort id, ushort type, uint data0 = 0, uint data1 = 0, uint data2 = 0) =>
        script.Byte(Op.Request).RequestBody(id, type, data0, data1, data2);

    /// <summary><paramref name="count"/> copies of a request (ids counting up from <paramref name="id"/>), posted as the ring has room.</summary>
    public static FuzzScript Flood(this FuzzScript script, int count, ushort id, ushort type, uint data0 = 0, uint data1 = 0, uint data2 = 0) =>
        script.Byte(Op.Flood).UInt16(count).RequestBody(id, type, data0, data1, data2);

    /// <summary>Grants <paramref name="gref"/> (if it is not yet) and writes <paramref name="bytes"/> at <paramref name="offset"/>.</summary>
    public static FuzzScript GrantBytes(this FuzzScript script, uint gref, int offset, ReadOnlySpan<byte> bytes) =>
        script.Byte(Op.Grant).Byte((int)gref).Byte(0).UInt16(offset).Byte(bytes.Length).Bytes(bytes);

    /// <summary>Grants <paramref name="gref"/> (if it is not yet) and writes 32-bit entries from entry <paramref name="first"/>.</summary>
    public static FuzzScript GrantEntries(this FuzzScript script, uint gref, int first, params ReadOnlySpan<uint> entries)
    {
        script.Byte(Op.Grant).Byte((int)gref).Byte(1).Byte(first).Byte(entries.Length);
        foreach (var entry in entries)
        {
            if (entry <= 8)
                script.Byte((int)entry);
            else
                script.Byte(0xF0).UInt32(entry);
        }
        return script;
    }

    /// <summary>An IPv4/TCP frame hashed and steered over the connection's queues.</summary>
    public static FuzzScript HashTcp4(this FuzzScript script) =>
        script.Byte(Op.Hash).Byte(4).Byte(0).UInt32(0x1234_5678)
            .Bytes([66, 9, 149, 187, 161, 142, 100, 80, .. new byte[24]]).UInt16(2794).UInt16(1766);

    private static FuzzScript RequestBody(this FuzzScript script, ushort id, ushort type, uint data0, uint data1, uint data2)
    {
        script.UInt16(id);
        if (type < 11)
            script.Byte(type);
        else
            script.Byte(0xF0).UInt16(type);
        return script.Value(data0).Value(data1).Value(data2);
    }
}
