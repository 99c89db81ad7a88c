using Backend.Xen.Abi;
using Backend.Xen.Xenbus;

namespace Backend.Xen.Tests.Xenbus;

/// <summary>A <c>state</c> node as either end reads it: one digit, anything else Unknown.</summary>
public sealed class XenbusStateTextTests
{
    [Fact]
    public void Every_state_reads_back_as_written()
    {
        foreach (var state in Enum.GetValues<XenbusState>())
            Assert.Equal(state, XenbusStateText.Parse(XenbusStateText.Format(state)));
        Assert.Equal("4", XenbusStateText.Format(XenbusState.Connected));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("9")]
    [InlineData("04")]
    [InlineData(" 4")]
    [InlineData("4 ")]
    [InlineData("4\n")]
    [InlineData("+4")]
    [InlineData("-1")]
    [InlineData("Connected")]
    [InlineData("\u0664")]
    [InlineData("44444444444444444444")]
    public void Anything_but_one_digit_of_the_enum_is_Unknown(string? text) =>
        Assert.Equal(XenbusState.Unknown, XenbusStateText.Parse(text));
}
