namespace Backend.Host.Soak;

/// <summary>A fault was not handled as SIMXEN promises (the soak records it and goes on).</summary>
internal sealed class SoakFaultFailedException(string message) : Exception(message);
