using System.Globalization;

namespace Backend.Xen.Platform.Sim.Toolstack;

/// <summary>
/// A vif's transmit rate limit as libxl writes it to the backend's <c>rate</c> node: <c>bytes,usec</c>,
/// <paramref name="Bytes"/> of credit every <paramref name="Microseconds"/>.
/// </summary>
public readonly record struct SimVifRate(ulong Bytes, uint Microseconds)
{
    /// <summary>The node's value, "bytes,usec".</summary>
    public string ToXenStoreValue()
    {
        if (Bytes == 0 || Microseconds == 0)
            throw new InvalidOperationException($"a vif rate needs bytes and usec above 0, not {Bytes},{Microseconds}");
        return Bytes.ToString(CultureInfo.InvariantCulture) + "," + Microseconds.ToString(CultureInfo.InvariantCulture);
    }
}
