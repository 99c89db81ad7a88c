using System.Buffers.Binary;

namespace Backend.Xen.XenStore;

/// <summary>
/// <c>struct xsd_sockmsg</c>: four little-endian u32 (type, req_id, tx_id, len), followed by len bytes of
/// payload. The payload length is not validated here: the reader decides what to do with an oversized one.
/// </summary>
public readonly record struct XenStoreMessageHeader(XenStoreMessageType Type, uint RequestId, uint TransactionId, uint Length)
{
    public const int Size = 16;

    public static XenStoreMessageHeader Read(ReadOnlySpan<byte> source) => new(
        (XenStoreMessageType)BinaryPrimitives.ReadUInt32LittleEndian(source),
        BinaryPrimitives.ReadUInt32LittleEndian(source[4..]),
        BinaryPrimitives.ReadUInt32LittleEndian(source[8..]),
        BinaryPrimitives.ReadUInt32LittleEndian(source[12..]));

    public void Write(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(destination, (uint)Type);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[4..], RequestId);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[8..], TransactionId);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[12..], Length);
    }
}
