using System.Buffers.Binary;
using System.Net;
using Backend.Xen.Abi;
using Backend.Xen.Offload;
using static Backend.TestSupport.Packets;

namespace Backend.Xen.Tests.Offload;

/// <summary>
/// Microsoft's "Verifying the RSS Hash Calculation" table (Windows driver docs) with the standard RSS key;
/// the table lists destination then source, the hash input is source then destination.
/// </summary>
public class ToeplitzTests
{
    private static readonly byte[] RssKey = Convert.FromHexString(
        "6d5a56da255b0ec24167253d43a38fb0d0ca2bcbae7b30b477cb2da38030f20c6a42b73bbeac01fa");

    [Theory]
    [InlineData("66.9.149.187", 2794, "161.142.100.80", 1766, 0x323e8fc2u, 0x51ccc178u)]
    [InlineData("199.92.111.2", 14230, "65.69.140.83", 4739, 0xd718262au, 0xc626b0eau)]
    [InlineData("24.19.198.95", 12898, "12.22.207.184", 38024, 0xd2d0a5deu, 0x5c2b394au)]
    [InlineData("38.27.205.30", 48228, "209.142.163.6", 2217, 0x82989176u, 0xafc7327fu)]
    [InlineData("153.39.163.191", 44251, "202.188.127.2", 1303, 0x5d1809c5u, 0x10e828a2u)]
    public void Ipv4_rows_of_the_rss_verification_table(string source, int sourcePort, string destination, int destinationPort,
        uint ipv4, uint ipv4Tcp)
    {
        byte[] src = IPAddress.Parse(source).GetAddressBytes();
        byte[] dst = IPAddress.Parse(destination).GetAddressBytes();

        Assert.Equal(ipv4, Toeplitz.HashIpv4(RssKey, src, dst));
        Assert.Equal(ipv4Tcp, Toeplitz.HashIpv4Tcp(RssKey, src, dst, (ushort)sourcePort, (ushort)destinationPort));
    }

    [Theory]
    [InlineData("3ffe:2501:200:1fff::7", 2794, "3ffe:2501:200:3::1", 1766, 0x2cc18cd5u, 0x40207d3du)]
    [InlineData("3ffe:501:8::260:97ff:fe40:efab", 14230, "ff02::1", 4739, 0x0f0c461cu, 0xdde51bbfu)]
    [InlineData("3ffe:1900:4545:3:200:f8ff:fe21:67cf", 44251, "fe80::200:f8ff:fe21:67cf", 38024, 0x4b61e985u, 0x02d1feefu)]
    public void Ipv6_rows_of_the_rss_verification_table(string source, int sourcePort, string destination, int destinationPort,
        uint ipv6, uint ipv6Tcp)
    {
        byte[] src = IPAddress.Parse(source).GetAddressBytes();
        byte[] dst = IPAddress.Parse(destination).GetAddressBytes();

        Assert.Equal(ipv6, Toeplitz.HashIpv6(RssKey, src, dst));
        Assert.Equal(ipv6Tcp, Toeplitz.HashIpv6Tcp(RssKey, src, dst, (ushort)sourcePort, (ushort)destinationPort));
    }

    [Fact]
    public void Key_shorter_than_the_input_is_padded_with_zeroes_as_netif_h_does()
    {
        // With a 1-byte key, only the first input byte's top bit meets a non-zero key window.
        byte[] key = [0x80];
        Assert.Equal(0x8000_0000u, Toeplitz.Hash(key, [0x80, 0, 0, 0]));
        Assert.Equal(0u, Toeplitz.Hash(key, [0x40, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]));
        Assert.Equal(0u, Toeplitz.Hash([], [0xFF, 0xFF]));
    }

    [Fact]
    public void Frame_hash_uses_the_tcp_type_when_enabled_and_falls_back_to_addresses()
    {
        byte[] tcp = Tcp([1, 2, 3]);
        BinaryPrimitives.WriteUInt16BigEndian(tcp.AsSpan(0), 2794);
        BinaryPrimitives.WriteUInt16BigEndian(tcp.AsSpan(2), 1766);
        byte[] ip = Ipv4(6, tcp);
        IPAddress.Parse("66.9.149.187").GetAddressBytes().CopyTo(ip, 12);
        IPAddress.Parse("161.142.100.80").GetAddressBytes().CopyTo(ip, 16);
        byte[] frame = Ethernet(0x0800, ip);

        Assert.True(Toeplitz.TryHashFrame(RssKey, frame, NetifCtrlStatus.HashTypeIpv4 | NetifCtrlStatus.HashTypeIpv4Tcp, out uint hash, out byte type));
        Assert.Equal((0x51ccc178u, (byte)1), (hash, type));
        Assert.True(Toeplitz.TryHashFrame(RssKey, frame, NetifCtrlStatus.HashTypeIpv4, out hash, out type));
        Assert.Equal((0x323e8fc2u, (byte)0), (hash, type));
        Assert.False(Toeplitz.TryHashFrame(RssKey, frame, NetifCtrlStatus.HashTypeIpv6 | NetifCtrlStatus.HashTypeIpv6Tcp, out _, out _));
        Assert.False(Toeplitz.TryHashFrame(RssKey, frame[..30], NetifCtrlStatus.HashTypeIpv4, out _, out _));
    }

    [Fact]
    public void Frame_hash_of_an_ipv6_tcp_frame()
    {
        byte[] tcp = Tcp([1, 2, 3]);
        BinaryPrimitives.WriteUInt16BigEndian(tcp.AsSpan(0), 2794);
        BinaryPrimitives.WriteUInt16BigEndian(tcp.AsSpan(2), 1766);
        byte[] ip = Ipv6(6, tcp);
        IPAddress.Parse("3ffe:2501:200:1fff::7").GetAddressBytes().CopyTo(ip, 8);
        IPAddress.Parse("3ffe:2501:200:3::1").GetAddressBytes().CopyTo(ip, 24);
        byte[] frame = Ethernet(0x86DD, ip);

        Assert.True(Toeplitz.TryHashFrame(RssKey, frame, NetifCtrlStatus.HashTypeIpv6Tcp, out uint hash, out byte type));
        Assert.Equal((0x40207d3du, (byte)3), (hash, type));
        Assert.True(Toeplitz.TryHashFrame(RssKey, frame, NetifCtrlStatus.HashTypeIpv6, out hash, out type));
        Assert.Equal((0x2cc18cd5u, (byte)2), (hash, type));
    }
}
