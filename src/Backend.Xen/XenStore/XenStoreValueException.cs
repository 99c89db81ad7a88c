namespace Backend.Xen.XenStore;

/// <summary>A xenstore node holds a value that is not of the expected form (values may come from a guest).</summary>
public sealed class XenStoreValueException : Exception
{
    public XenStoreValueException(string path, string value, string expected)
        : base($"xenstore {path} = \"{PrintableValue.Of(value)}\" is not {expected}")
    {
        Path = path;
        Value = value;
    }

    public string Path { get; }

    public string Value { get; }
}
