using Backend.Xen.Abi;
using Backend.Xen.Xenbus;

namespace Backend.Xen.Tests.Xenbus;

/// <summary>The values a guest or toolstack writes, parsed strictly: garbage is an error naming the path and value.</summary>
public sealed class XenStoreValueParsingTests
{
    [Theory]
    [InlineData("")]
    [InlineData("-1")]
    [InlineData("+5")]
    [InlineData(" 5")]
    [InlineData("5 ")]
    [InlineData("0x10")]
    [InlineData("99999999999")]
    [InlineData("4294967296")]
    public void Malformed_unsigned_integers_are_refused_with_path_and_value(string value)
    {
        var ex = Assert.Throws<VifConfigException>(() => XenStoreValue.ParseUInt("/fe/tx-ring-ref", value));
        Assert.Contains("/fe/tx-ring-ref", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("0\0\0\0")]
    [InlineData("8\0")]
    [InlineData("1500\0\0")]
    public void Digits_followed_by_NUL_characters_are_refused(string value)
    {
        // Found by the xenbus fuzz target (corpus/xenbus/crash-e626efa675a0): .NET's parser took trailing
        // NULs, so a frontend mtu of "0" and NULs was read as an MTU of 0.
        Assert.Throws<VifConfigException>(() => XenStoreValue.ParseUInt("/fe/mtu", value));
        Assert.False(XenStoreValue.TryParseULong(value, out _));
        Assert.Throws<VifConfigException>(() => RateLimit.Parse("/be/rate", value + "," + value));
    }

    [Fact]
    public void A_value_over_its_bound_is_refused_and_a_huge_value_is_truncated_in_the_message()
    {
        Assert.Throws<VifConfigException>(() => XenStoreValue.ParseUInt("/be/mtu", "65536", 65535));
        var ex = Assert.Throws<VifConfigException>(() => XenStoreValue.ParseUInt("/be/mtu", new string('9', 5000)));
        Assert.True(ex.Message.Length < 200, "a guest must not be able to flood the log through an error message");
    }

    [Theory]
    [InlineData("2", false)]
    [InlineData("yes", false)]
    [InlineData("", false)]
    [InlineData("1", true)]
    [InlineData("0", true)]
    public void Flags_are_0_or_1_only(string value, bool valid)
    {
        if (valid)
            XenStoreValue.ParseFlag("/fe/feature-sg", value);
        else
            Assert.Throws<VifConfigException>(() => XenStoreValue.ParseFlag("/fe/feature-sg", value));
    }

    [Theory]
    [InlineData("1000")]
    [InlineData(",")]
    [InlineData("1000,")]
    [InlineData(",1000")]
    [InlineData("0,1000")]
    [InlineData("1000,0")]
    [InlineData("1000,2000000000")]
    [InlineData("a,b")]
    [InlineData("1000,20,30")]
    public void Malformed_rates_are_refused(string value) =>
        Assert.Throws<VifConfigException>(() => RateLimit.Parse("/be/rate", value));

    [Theory]
    [InlineData("1000")]
    [InlineData("0,1000")]
    [InlineData("1000,0")]
    [InlineData("1000,2000000000")]
    [InlineData("+1000,20")]
    [InlineData("1000, 20")]
    public void A_malformed_rate_is_read_as_unlimited_and_kept_for_the_warning(string value)
    {
        Assert.False(RateLimit.TryParse(value, out var rate, out var reason));
        Assert.Null(rate);
        Assert.NotEmpty(reason);
        Assert.Equal((null, value), BackendConfig.ReadRate(value));
    }

    [Fact]
    public void No_rate_is_unlimited_without_a_warning() => Assert.Equal((null, null), BackendConfig.ReadRate(null));

    [Fact]
    public void A_rate_as_libxl_writes_it_is_read()
    {
        var rate = RateLimit.Parse("/be/rate", "1250000,20000");
        Assert.Equal(1250000UL, rate.Bytes);
        Assert.Equal(20000UL, rate.Microseconds);
    }

    [Theory]
    [InlineData("00:16:3e:00:00:01", true)]
    [InlineData("00:16:3E:0A:bC:01", true)]
    [InlineData("00:16:3e:00:00", false)]
    [InlineData("00-16-3e-00-00-01", false)]
    [InlineData("00:16:3e:00:00:0g", false)]
    [InlineData("00:16:3e:00:00:01:", false)]
    [InlineData("", false)]
    public void Mac_addresses_are_parsed_strictly(string text, bool valid)
    {
        Assert.Equal(valid, MacAddress.TryParse(text, out var mac));
        if (valid)
            Assert.Equal(text.ToLowerInvariant(), mac.ToString());
    }

    [Theory]
    [InlineData("0", 0)]
    [InlineData("007", 7)]
    [InlineData("-42", -42)]
    [InlineData("-0", 0)]
    [InlineData("2147483647", int.MaxValue)]
    [InlineData("-2147483648", int.MinValue)]
    public void Signed_values_take_a_minus_and_digits(string text, int expected)
    {
        Assert.True(XenStoreValue.TryParseInt(text, out var value));
        Assert.Equal(expected, value);
    }

    [Theory]
    [InlineData("")]
    [InlineData("-")]
    [InlineData("--1")]
    [InlineData("+1")]
    [InlineData(" 1")]
    [InlineData("1 ")]
    [InlineData("2147483648")]
    [InlineData("-2147483649")]
    [InlineData("-4294967296")]
    [InlineData("1e3")]
    [InlineData("\u0661")]
    public void Signed_values_refuse_anything_else(string text) =>
        Assert.False(XenStoreValue.TryParseInt(text, out _));

    [Theory]
    [InlineData("18446744073709551615", true)]
    [InlineData("18446744073709551616", false)]
    [InlineData("000000000000000000001", false)]
    [InlineData("-1", false)]
    [InlineData("", false)]
    public void Unsigned_64_bit_values_are_digits_that_fit(string text, bool valid) =>
        Assert.Equal(valid, XenStoreValue.TryParseULong(text, out _));

    [Fact]
    public void A_missing_value_and_one_with_control_characters_are_named_printably()
    {
        Assert.Contains("missing", Assert.Throws<VifConfigException>(() => XenStoreValue.ParseUInt("/fe/rx-ring-ref", null)).Message, StringComparison.Ordinal);
        var ex = Assert.Throws<VifConfigException>(() => XenStoreValue.ParseUInt("/fe/rx-ring-ref", "1\u001b[2J"));
        Assert.DoesNotContain('\u001b', ex.Message);
        Assert.Equal("/fe/rx-ring-ref", ex.Path);
    }

    [Fact]
    public void A_missing_flag_takes_its_default() =>
        Assert.True(XenStoreValue.ParseFlag("/be/online", null, missing: true));
}
