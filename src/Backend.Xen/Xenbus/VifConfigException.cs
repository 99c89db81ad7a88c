using Backend.Xen.XenStore;

namespace Backend.Xen.Xenbus;

/// <summary>A xenstore value of a vif that is missing or malformed; the message names the path and the value.</summary>
public sealed class VifConfigException(string path, string? value, string reason)
    : Exception(value is null ? $"{path}: {reason}" : $"{path} = \"{PrintableValue.Of(value)}\": {reason}")
{
    public string Path { get; } = path;
}
