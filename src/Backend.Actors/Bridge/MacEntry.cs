namespace Backend.Actors.Bridge;

/// <summary>
/// One learned source in a <see cref="MacTable"/>: where it was last seen and when. The MAC never changes;
/// <see cref="Port"/> changes only under the bridge's write lock (a move, which bumps the table's
/// version), <see cref="LastSeen"/> in place by any forwarder (at most once a second, so that the line
/// read by every port that sends to this MAC does not bounce between their threads).
/// </summary>
internal sealed class MacEntry(ulong mac, BridgePort port, long seen)
{
    public readonly ulong Mac = mac;
    public volatile BridgePort Port = port;
    public long LastSeen = seen;
}
