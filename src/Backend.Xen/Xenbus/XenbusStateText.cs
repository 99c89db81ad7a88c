using System.Globalization;
using Backend.Xen.Abi;

namespace Backend.Xen.Xenbus;

/// <summary>A device's <c>state</c> node as text: how either end reads and writes it.</summary>
internal static class XenbusStateText
{
    /// <summary>
    /// As Linux's <c>xenbus_read_driver_state</c>: the node is one decimal digit of <c>enum xenbus_state</c>;
    /// anything else (missing, "04", " 4", "9") counts as <see cref="XenbusState.Unknown"/>, which SIMXEN
    /// treats like Closed. Either end may have written it, so it is parsed as hostile.
    /// </summary>
    public static XenbusState Parse(string? text) =>
        text is { Length: 1 } && text[0] is >= '0' and <= '8' ? (XenbusState)(text[0] - '0') : XenbusState.Unknown;

    /// <summary>The node's value for <paramref name="state"/>.</summary>
    public static string Format(XenbusState state) => ((int)state).ToString(CultureInfo.InvariantCulture);
}
