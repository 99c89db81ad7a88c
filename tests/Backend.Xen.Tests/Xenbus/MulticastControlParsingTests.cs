using Backend.Xen.Xenbus;

namespace Backend.Xen.Tests.Xenbus;

/// <summary>
/// <c>request-multicast-control</c> read as Linux's <c>!!xenbus_read_unsigned(..., 0)</c>: the kernel's
/// <c>%u</c> (white space skipped, decimal digits, low 32 bits, the rest ignored), off when nothing parses.
/// Never refused: the key is sampled again at every watch event.
/// </summary>
public sealed class MulticastControlParsingTests
{
    [Theory]
    [InlineData(null, false)]          // no key: off
    [InlineData("", false)]
    [InlineData("yes", false)]
    [InlineData("-1", false)]          // %u takes no sign
    [InlineData("0", false)]
    [InlineData("1", true)]
    [InlineData("2", true)]            // any non-zero value (the !!)
    [InlineData(" 1", true)]
    [InlineData("1junk", true)]        // what follows the digits is ignored
    [InlineData("4294967296", false)]  // the low 32 bits are 0, as the kernel's (unsigned int)
    [InlineData("4294967297", true)]
    public void Request_multicast_control_is_read_as_linux_reads_it(string? text, bool expected) =>
        Assert.Equal(expected, FrontendConfig.ParseMulticastControl(text));
}
