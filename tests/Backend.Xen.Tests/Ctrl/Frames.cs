using System.Buffers.Binary;
using System.Net;
using static Backend.TestSupport.Packets;

namespace Backend.Xen.Tests.Ctrl;

/// <summary>Microsoft's RSS verification key, and Ethernet frames of the flows in its table.</summary>
internal static class Frames
{
    /// <summary>The key of "Verifying the RSS Hash Calculation" (as <c>ToeplitzTests</c>).</summary>
    public static readonly byte[] RssKey = Convert.FromHexString(
        "6d5a56da255b0ec24167253d43a38fb0d0ca2bcbae7b30b477cb2da38030f20c6a42b73bbeac01fa");

    public static byte[] Ipv4Tcp(string source, int sourcePort, string destination, int destinationPort)
    {
        byte[] ip = Ipv4(6, Ports(sourcePort, destinationPort));
        IPAddress.Parse(source).GetAddressBytes().CopyTo(ip, 12);
        IPAddress.Parse(destination).GetAddressBytes().CopyTo(ip, 16);
        return Ethernet(0x0800, ip);
    }

    public static byte[] Ipv6Tcp(string source, int sourcePort, string destination, int destinationPort)
    {
        byte[] ip = Ipv6(6, Ports(sourcePort, destinationPort));
        IPAddress.Parse(source).GetAddressBytes().CopyTo(ip, 8);
        IPAddress.Parse(destination).GetAddressBytes().CopyTo(ip, 24);
        return Ethernet(0x86DD, ip);
    }

    private static byte[] Ports(int sourcePort, int destinationPort)
    {
        byte[] tcp = Tcp([1, 2, 3]);
        BinaryPrimitives.WriteUInt16BigEndian(tcp.AsSpan(0), (ushort)sourcePort);
        BinaryPrimitives.WriteUInt16BigEndian(tcp.AsSpan(2), (ushort)destinationPort);
        return tcp;
    }
}
