namespace Backend.Xen.Xenbus;

/// <summary>
/// A vif's transmit credit, as libxl writes <c>rate</c> ("bytes,usec") and Linux netback's credit
/// scheduler applies it: at most <see cref="Bytes"/> per <see cref="Microseconds"/>.
/// </summary>
public sealed record RateLimit(ulong Bytes, ulong Microseconds)
{
    public static RateLimit Parse(string path, string text)
    {
        var comma = text.IndexOf(',');
        if (comma <= 0 || comma == text.Length - 1
            || !XenStoreValue.TryParseULong(text.AsSpan(0, comma), out var bytes)
            || !XenStoreValue.TryParseULong(text.AsSpan(comma + 1), out var usec))
            throw new VifConfigException(path, text, "not \"bytes,usec\"");
        if (usec == 0 || usec > 1_000_000_000UL || bytes == 0)
            throw new VifConfigException(path, text, "bytes and usec must be positive (usec at most 1000 s)");
        return new RateLimit(bytes, usec);
    }
}
