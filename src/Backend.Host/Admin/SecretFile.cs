namespace Backend.Host.Admin;

/// <summary>
/// A file that holds a secret (a token, a private key): read once at start, and said to be too open when
/// anyone but its owner may read it, as ssh says of a private key.
/// </summary>
public static class SecretFile
{
    private const UnixFileMode GroupOrOthers =
        UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute |
        UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;

    /// <summary>The warning for <paramref name="path"/> when its mode lets group or others in, else null.</summary>
    public static string? OpenModeWarning(string setting, string path)
    {
        // The daemon runs on Linux only; the guard is for the analyser, which cannot know that.
        if (OperatingSystem.IsWindows())
            return null;
        UnixFileMode mode;
        try
        {
            mode = File.GetUnixFileMode(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
        return (mode & GroupOrOthers) == 0
            ? null
            : $"{setting}: {path} has mode {Convert.ToString((int)mode, 8).PadLeft(4, '0')}, readable beyond its owner; chmod 600 it (owner root)";
    }

    /// <summary>The first line of <paramref name="path"/>, trimmed, or null with the reason.</summary>
    public static string? ReadFirstLine(string path, out string? why)
    {
        try
        {
            using var reader = new StreamReader(path);
            var line = reader.ReadLine()?.Trim();
            why = string.IsNullOrEmpty(line) ? $"{path} is empty" : null;
            return why is null ? line : null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            why = $"cannot read {path}: {ex.Message}";
            return null;
        }
    }
}
