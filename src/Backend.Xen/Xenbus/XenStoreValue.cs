using System.Globalization;

namespace Backend.Xen.Xenbus;

/// <summary>
/// The one strict grammar of xenstore values, as Linux netback reads them (<c>xenbus_scanf("%u")</c> and
/// friends) but stricter: decimal digits only (a '-' only for a signed value), no blank, no '+', no hex,
/// no more digits than the type holds, and flags exactly "0" or "1". Every value may have been written
/// by a guest. The <c>Try</c> forms are the grammar (also behind <see cref="XenStore.XenStoreExtensions"/>'s
/// typed reads, and the ids in xenstore paths); <see cref="ParseUInt"/> and <see cref="ParseFlag"/> are
/// what a vif's configuration uses: a missing or malformed key is a <see cref="VifConfigException"/>
/// naming the path and the value.
/// </summary>
internal static class XenStoreValue
{
    /// <summary>The digits of <see cref="uint.MaxValue"/>.</summary>
    private const int MaxUIntDigits = 10;

    /// <summary>The digits of <see cref="ulong.MaxValue"/>.</summary>
    private const int MaxULongDigits = 20;

    public static bool TryParseUInt(ReadOnlySpan<char> text, out uint value)
    {
        value = 0;
        return text.Length is > 0 and <= MaxUIntDigits && IsDigits(text)
            && uint.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out value);
    }

    public static bool TryParseULong(ReadOnlySpan<char> text, out ulong value)
    {
        value = 0;
        return text.Length is > 0 and <= MaxULongDigits && IsDigits(text)
            && ulong.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out value);
    }

    public static bool TryParseInt(ReadOnlySpan<char> text, out int value)
    {
        value = 0;
        var negative = text.Length > 0 && text[0] == '-';
        if (!TryParseUInt(negative ? text[1..] : text, out var magnitude))
            return false;
        if (negative ? magnitude > (uint)int.MaxValue + 1 : magnitude > int.MaxValue)
            return false;
        value = negative ? (int)(0 - magnitude) : (int)magnitude;
        return true;
    }

    /// <summary>
    /// ASCII digits and nothing else. NumberStyles.None alone is not that: .NET's parser takes trailing NUL
    /// characters ("8\0junk" less the junk, "0\0\0" as 0), which a xenstore value may hold (found by the
    /// xenbus fuzz target: a frontend mtu "0\0\0..." read as 0).
    /// </summary>
    private static bool IsDigits(ReadOnlySpan<char> text) => !text.ContainsAnyExceptInRange('0', '9');

    /// <summary>A feature flag as frontends and backends write them: "0" or "1".</summary>
    public static bool TryParseFlag(ReadOnlySpan<char> text, out bool value)
    {
        value = text is "1";
        return text is "0" or "1";
    }

    /// <summary>A key the vif needs: present, and an unsigned integer of at most <paramref name="max"/>.</summary>
    public static uint ParseUInt(string path, string? value, uint max = uint.MaxValue)
    {
        if (value is null)
            throw new VifConfigException(path, null, "missing");
        if (!TryParseUInt(value, out var result))
            throw new VifConfigException(path, value, "not an unsigned integer");
        if (result > max)
            throw new VifConfigException(path, value, $"larger than {max}");
        return result;
    }

    /// <summary>A boolean feature flag: missing means <paramref name="missing"/>, else "0" or "1".</summary>
    public static bool ParseFlag(string path, string? value, bool missing = false)
    {
        if (value is null)
            return missing;
        return TryParseFlag(value, out var flag) ? flag : throw new VifConfigException(path, value, "not 0 or 1");
    }
}
