namespace Backend.Actors.Vif;

/// <summary>A xenstore value of a vif that is missing or malformed; the message names the path and the value.</summary>
public sealed class VifConfigException(string path, string? value, string reason)
    : Exception(value is null ? $"{path}: {reason}" : $"{path} = \"{Truncate(value)}\": {reason}")
{
    public string Path { get; } = path;

    // A guest writes these values; keep a hostile megabyte out of our logs.
    private static string Truncate(string value) => value.Length <= 64 ? value : value[..64] + "…";
}
