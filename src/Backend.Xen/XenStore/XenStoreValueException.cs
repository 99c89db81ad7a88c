namespace Backend.Xen.XenStore;

/// <summary>A xenstore node holds a value that is not of the expected form (values may come from a guest).</summary>
public sealed class XenStoreValueException : Exception
{
    public XenStoreValueException(string path, string value, string expected)
        : base($"xenstore {path} = \"{Printable(value)}\" is not {expected}")
    {
        Path = path;
        Value = value;
    }

    public string Path { get; }

    public string Value { get; }

    // A guest chooses the value: keep the message one readable line of bounded length.
    private static string Printable(string value)
    {
        const int max = 64;
        var length = Math.Min(value.Length, max);
        var chars = new char[length];
        for (var i = 0; i < length; i++)
            chars[i] = value[i] is >= ' ' and <= '~' ? value[i] : '?';
        return value.Length > max ? new string(chars) + "..." : new string(chars);
    }
}
