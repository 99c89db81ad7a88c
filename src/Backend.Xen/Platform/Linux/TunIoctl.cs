namespace Backend.Xen.Platform.Linux;

/// <summary>
/// The tun/tap ABI (linux/if_tun.h, linux/sockios.h, net/if.h) that <see cref="TapDevice"/> uses.
/// Checked against the headers by a C probe.
/// </summary>
public static class TunIoctl
{
    public const string DevicePath = "/dev/net/tun";

    // _IOW('T', nr, int): direction write (1) << 30 | sizeof(int) << 16 | 'T' << 8 | nr.
    internal const nuint TUNSETIFF = (1u << 30) | (4u << 16) | ('T' << 8) | 202;
    internal const nuint TUNSETPERSIST = (1u << 30) | (4u << 16) | ('T' << 8) | 203;
    internal const nuint TUNSETOFFLOAD = (1u << 30) | (4u << 16) | ('T' << 8) | 208;
    internal const nuint TUNSETVNETHDRSZ = (1u << 30) | (4u << 16) | ('T' << 8) | 216;
    /// <summary>Linux 5.0: the device's carrier on or off (<c>netif_carrier_on/off</c>), the int read through the pointer.</summary>
    internal const nuint TUNSETCARRIER = (1u << 30) | (4u << 16) | ('T' << 8) | 226;

    internal const nuint SIOCGIFFLAGS = 0x8913;
    internal const nuint SIOCSIFFLAGS = 0x8914;
    internal const nuint SIOCGIFINDEX = 0x8933;
    /// <summary>linux/sockios.h: adds the interface <c>ifr_ifindex</c> to the bridge <c>ifr_name</c>, as <c>brctl addif</c>.</summary>
    internal const nuint SIOCBRADDIF = 0x89a2;

    internal const short IFF_TAP = 0x0002;
    internal const short IFF_NO_PI = 0x1000;
    internal const short IFF_VNET_HDR = 0x4000;
    /// <summary>net/if.h: the interface is administratively up.</summary>
    internal const short IFF_UP = 0x1;

    /// <summary>IFNAMSIZ: names are at most 15 bytes and a NUL.</summary>
    internal const int IFNAMSIZ = 16;

    /// <summary>The stack may hand us frames with a blank checksum (VIRTIO_NET_HDR_F_NEEDS_CSUM).</summary>
    public const uint TUN_F_CSUM = 0x01;
    /// <summary>The stack may hand us TCPv4 GSO frames (needs TUN_F_CSUM).</summary>
    public const uint TUN_F_TSO4 = 0x02;
    /// <summary>The stack may hand us TCPv6 GSO frames (needs TUN_F_CSUM).</summary>
    public const uint TUN_F_TSO6 = 0x04;
}
