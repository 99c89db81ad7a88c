namespace Backend.Xen.Platform.Linux;

/// <summary>
/// Real Xen was asked for where there is none. The message is one line that says what is missing and
/// what to do; the host prints it as it is.
/// </summary>
public sealed class XenPlatformUnavailableException(string message) : Exception(message);
