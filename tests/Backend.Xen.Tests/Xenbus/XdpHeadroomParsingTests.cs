using Backend.Xen.Xenbus;

namespace Backend.Xen.Tests.Xenbus;

/// <summary>
/// <c>xdp-headroom</c> read as Linux's <c>read_xenbus_frontend_xdp</c> does: the kernel's <c>%hu</c>
/// (white space skipped, decimal digits, low 16 bits, the rest ignored), 0 when nothing parses, at most
/// XEN_NETIF_MAX_XDP_HEADROOM.
/// </summary>
public sealed class XdpHeadroomParsingTests
{
    [Theory]
    [InlineData(null, 0)]          // no key: no headroom
    [InlineData("", 0)]
    [InlineData("abc", 0)]
    [InlineData("-1", 0)]          // %hu takes no sign
    [InlineData("+5", 0)]
    [InlineData("0", 0)]
    [InlineData("256", 256)]       // netfront's XDP_PACKET_HEADROOM
    [InlineData(" \t256", 256)]
    [InlineData("256x", 256)]      // what follows the digits is ignored
    [InlineData("4096", 4096)]
    [InlineData("32767", 0x7FFF)]
    [InlineData("32768", 0x7FFF)]  // clamped to XEN_NETIF_MAX_XDP_HEADROOM
    [InlineData("65535", 0x7FFF)]
    [InlineData("65536", 0)]       // the low 16 bits of the value, as the kernel's (unsigned short) cast
    [InlineData("65792", 256)]
    [InlineData("99999999999999999999999", 0x7FFF)] // wraps, then clamped: never an exception
    public void Xdp_headroom_is_parsed_as_linux_does(string? text, int expected) =>
        Assert.Equal(expected, FrontendConfig.ParseXdpHeadroom(text));
}
