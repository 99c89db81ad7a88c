namespace Backend.Xen.Platform.Sim.Netfront;

/// <summary>What a <see cref="SimGuestRunner"/> guest does once connected.</summary>
public enum SimGuestMode
{
    /// <summary>Answers ARP and ICMP echo (so that others can ping it) and counts other frames, until cancelled.</summary>
    Echo,

    /// <summary>Pings the peer <see cref="SimGuestOptions.Count"/> times and reports each round trip.</summary>
    Ping,

    /// <summary>Sends <see cref="SimGuestOptions.Count"/> UDP frames to the peer as fast as the ring takes them.</summary>
    Stream,
}
