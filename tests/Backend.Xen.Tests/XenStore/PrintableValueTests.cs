using Backend.Xen.XenStore;

namespace Backend.Xen.Tests.XenStore;

/// <summary>Issue 12, finding 7: what a guest wrote reaches logs and the status table printable.</summary>
public sealed class PrintableValueTests
{
    [Theory]
    [InlineData("00:16:3e:00:00:01", "00:16:3e:00:00:01")]
    [InlineData("\u001b[31mred", @"\x1b[31mred")]
    [InlineData("a\nforged line", @"a\x0aforged line")]
    [InlineData("del\u007f", @"del\x7f")]
    [InlineData("c1\u009b", @"c1\x9b")]
    [InlineData("bidi\u202Eevil", @"bidi\u{202e}evil")]
    [InlineData(@"back\slash", @"back\\slash")]
    public void Control_and_format_characters_are_escaped(string value, string expected) =>
        Assert.Equal(expected, PrintableValue.Of(value));

    [Fact]
    public void A_long_value_is_cut()
    {
        var printed = PrintableValue.Of(new string('x', 1 << 20));
        Assert.Equal(PrintableValue.DefaultMaxLength + 1, printed.Length);
        Assert.EndsWith("…", printed);
    }
}
