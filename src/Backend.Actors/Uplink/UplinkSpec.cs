namespace Backend.Actors.Uplink;

/// <summary>
/// One <c>--uplink</c> value: <c>tap:NAME[@BRIDGE][,linux-bridge=BR]</c>. The TAP <c>NAME</c> becomes a
/// port of the in-process learning bridge <c>BRIDGE</c> (the vifs' <c>bridge</c> key; default
/// <see cref="DefaultBridge"/>), and, if given, a port of the host's Linux bridge <c>BR</c>.
/// </summary>
public sealed record UplinkSpec(string TapName, string Bridge, string? LinuxBridge)
{
    public const string DefaultBridge = "xenbr0";

    public const string Syntax = "tap:NAME[@BRIDGE][,linux-bridge=BR]";

    /// <summary>Parses <paramref name="text"/>; on failure <paramref name="error"/> says why, in one line.</summary>
    public static bool TryParse(string? text, out UplinkSpec? spec, out string? error)
    {
        spec = null;
        error = null;
        if (string.IsNullOrEmpty(text) || !text.StartsWith("tap:", StringComparison.Ordinal))
        {
            error = "only TAP uplinks exist: the value starts with 'tap:'";
            return false;
        }
        var parts = text[4..].Split(',');
        var head = parts[0];
        var at = head.IndexOf('@', StringComparison.Ordinal);
        var name = at < 0 ? head : head[..at];
        var bridge = at < 0 ? DefaultBridge : head[(at + 1)..];
        if (InterfaceNameProblem(name) is { } nameProblem)
        {
            error = $"TAP name '{name}' {nameProblem}";
            return false;
        }
        // Bridge values are the toolstack's free text; only emptiness and our own separators are refused.
        if (bridge.Length == 0 || bridge.Contains('@', StringComparison.Ordinal))
        {
            error = $"bridge '{bridge}' after '@' is empty or has an '@'";
            return false;
        }
        string? linuxBridge = null;
        foreach (var option in parts.AsSpan(1))
        {
            if (!option.StartsWith("linux-bridge=", StringComparison.Ordinal))
            {
                error = $"unknown option '{option}' (only linux-bridge=BR)";
                return false;
            }
            linuxBridge = option["linux-bridge=".Length..];
            if (InterfaceNameProblem(linuxBridge) is { } bridgeProblem)
            {
                error = $"linux-bridge '{linuxBridge}' {bridgeProblem}";
                return false;
            }
        }
        spec = new UplinkSpec(name, bridge, linuxBridge);
        return true;
    }

    public override string ToString() =>
        $"tap:{TapName}@{Bridge}{(LinuxBridge is null ? "" : ",linux-bridge=" + LinuxBridge)}";

    /// <summary>Why Linux would refuse <paramref name="name"/> as an interface name (dev_valid_name), or null.</summary>
    internal static string? InterfaceNameProblem(string name)
    {
        if (name.Length == 0)
            return "is empty";
        if (name.Length > 15)
            return "is longer than 15 characters (IFNAMSIZ)";
        if (name is "." or "..")
            return "is not an interface name";
        foreach (var c in name)
            if (c <= ' ' || c >= 0x7f || c is '/' or ':')
                return $"has a character Linux refuses ('{c}')";
        return null;
    }
}
