namespace Backend.Host.Soak;

/// <summary>One fault as it ran: what, when it started (seconds into the fault phase), how long it took, and the outcome ("ok" or why not).</summary>
internal sealed record SoakFaultResult(string Fault, double StartedAt, double Milliseconds, string Outcome, double? TreeRestartMs);
