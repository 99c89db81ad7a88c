namespace Backend.Xen.Platform.Sim.Netfront;

/// <summary>What a <see cref="SimGuestRunner"/> guest did.</summary>
/// <param name="Counters">The netfront's counters at the end.</param>
/// <param name="RoundTrips">Each answered ping's round trip (Ping mode).</param>
/// <param name="PingsLost">Pings that got no answer in time.</param>
/// <param name="EchoAnswered">ICMP echo requests this guest answered.</param>
/// <param name="OtherFramesReceived">Frames that were neither ARP nor ICMP for us (a stream's frames, in Echo mode).</param>
/// <param name="FramesPerSecond">Stream mode: frames put on the ring per second.</param>
public sealed record SimGuestResult(
    SimNetfrontCounters Counters,
    IReadOnlyList<TimeSpan> RoundTrips,
    int PingsLost,
    long EchoAnswered,
    long OtherFramesReceived,
    double FramesPerSecond);
