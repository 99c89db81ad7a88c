namespace Backend.Host.Hosting;

/// <summary>A reason the daemon cannot start, printed as one line (no stack trace) before it exits.</summary>
public sealed class StartupException(string message) : Exception(message);
