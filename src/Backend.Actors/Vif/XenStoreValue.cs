using System.Globalization;

namespace Backend.Actors.Vif;

/// <summary>
/// Parsing of xenstore values as Linux netback reads them (<c>xenbus_scanf("%u")</c> and friends). Every
/// value may have been written by the guest, so each rejects anything but the exact form.
/// </summary>
public static class XenStoreValue
{
    public static uint ParseUInt(string path, string? value, uint max = uint.MaxValue)
    {
        if (value is null)
            throw new VifConfigException(path, null, "missing");
        if (value.Length is 0 or > 10 || !uint.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var result))
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
        return value switch
        {
            "0" => false,
            "1" => true,
            _ => throw new VifConfigException(path, value, "not 0 or 1"),
        };
    }
}
