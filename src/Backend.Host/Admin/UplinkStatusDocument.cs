namespace Backend.Host.Admin;

/// <summary>An uplink in <c>GET /status</c>: its in-process bridge and its TAP.</summary>
public sealed record UplinkStatusDocument(string Bridge, TapCountersDocument Tap);
