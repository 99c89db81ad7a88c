namespace Backend.Actors.Hypercall;

/// <summary>
/// A liveness probe for a lane: its hypercall actor answers it with itself as soon as its thread takes the
/// message. A lane whose thread is held (a drain that does not return, a blocked copy) does not answer,
/// and that is what the daemon's watchdog watches for.
/// </summary>
public sealed record LaneProbe(int Lane, long Round);
