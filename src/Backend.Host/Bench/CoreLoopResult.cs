namespace Backend.Host.Bench;

/// <summary>The protocol core alone: frames moved guest to guest per second by <see cref="CoreLoop"/>.</summary>
internal sealed record CoreLoopResult(int Size, bool Gso, double FramesPerSecond, double Gbps);
