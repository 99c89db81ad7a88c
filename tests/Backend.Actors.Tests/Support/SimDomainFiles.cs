using System.Buffers.Binary;
using Backend.Xen.Platform.Sim;

namespace Backend.Actors.Tests.Support;

/// <summary>
/// Reads a simulated domain's files as SIMXEN lays them out, to check what a backend did to them: an
/// <c>evtchn-peers</c> entry (who a port is bound to) and a <c>grant-table</c> entry (who may use a grant,
/// and whether it is in use).
/// </summary>
public static class SimDomainFiles
{
    public static SimEventChannelEntry EventChannel(SimRoot root, ushort domid, uint port) =>
        SimEventChannelEntry.Unpack(BinaryPrimitives.ReadUInt64LittleEndian(Read(root.DomainFile(domid, SimRoot.EventChannelPeersFile), port * 8L, 8)));

    /// <summary>A grant entry's <c>flags</c> and <c>domid</c> (grant_entry_v1_t).</summary>
    public static (ushort Flags, ushort DomId) Grant(SimRoot root, ushort domid, uint gref)
    {
        var entry = Read(root.DomainFile(domid, SimRoot.GrantTableFile), gref * 8L, 4);
        return (BinaryPrimitives.ReadUInt16LittleEndian(entry), BinaryPrimitives.ReadUInt16LittleEndian(entry.AsSpan(2)));
    }

    private static byte[] Read(string path, long offset, int length)
    {
        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        var bytes = new byte[length];
        file.Position = offset;
        file.ReadExactly(bytes);
        return bytes;
    }
}
