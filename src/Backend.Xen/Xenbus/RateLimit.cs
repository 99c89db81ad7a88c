namespace Backend.Xen.Xenbus;

/// <summary>
/// A vif's credit, as libxl writes <c>rate</c> ("bytes,usec") and Linux netback's credit scheduler
/// applies it: at most <see cref="Bytes"/> per <see cref="Microseconds"/>. Linux applies it to what the
/// guest transmits; this backend applies the same limit to what it receives too (decisions.md).
/// </summary>
public sealed record RateLimit(ulong Bytes, ulong Microseconds)
{
    /// <summary>The longest period accepted (1000 s): beyond it a period's timer means nothing.</summary>
    public const ulong MaxMicroseconds = 1_000_000_000UL;

    /// <summary>Parses strictly; a malformed value is a <see cref="VifConfigException"/> naming <paramref name="path"/>.</summary>
    public static RateLimit Parse(string path, string text) =>
        TryParse(text, out var rate, out var reason) ? rate : throw new VifConfigException(path, text, reason);

    /// <summary>
    /// As Linux's <c>xen_net_read_rate</c>, in the strict grammar of <see cref="XenStoreValue"/>: two
    /// decimal numbers and one comma. Zero bytes or a zero period (which Linux takes, and then never lets
    /// a packet through, or refills at every look) and a period beyond <see cref="MaxMicroseconds"/> are
    /// malformed too. False with why when it is malformed: the caller runs the vif unlimited and warns, as
    /// Linux does, instead of failing it.
    /// </summary>
    public static bool TryParse(string text, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out RateLimit? rate, out string reason)
    {
        ArgumentNullException.ThrowIfNull(text);
        rate = null;
        var comma = text.IndexOf(',');
        if (comma <= 0 || comma == text.Length - 1
            || !XenStoreValue.TryParseULong(text.AsSpan(0, comma), out var bytes)
            || !XenStoreValue.TryParseULong(text.AsSpan(comma + 1), out var usec))
        {
            reason = "not \"bytes,usec\"";
            return false;
        }
        if (usec == 0 || usec > MaxMicroseconds || bytes == 0)
        {
            reason = "bytes and usec must be positive (usec at most 1000 s)";
            return false;
        }
        rate = new RateLimit(bytes, usec);
        reason = "";
        return true;
    }
}
