namespace Backend.Host.Bench;

/// <summary>The daemon with many idle connected guests: memory per guest and the time they took to connect.</summary>
internal sealed record IdleGuestsResult
{
    public int Guests { get; init; }

    /// <summary>From the toolstack's first vif creation to the last guest Connected.</summary>
    public double ConnectSeconds { get; init; }

    /// <summary>Growth of the daemon's <c>Private_Dirty</c> divided by the guests.</summary>
    public double PrivateDirtyKiBPerGuest { get; init; }

    /// <summary>Growth of the daemon's managed heap divided by the guests.</summary>
    public double ManagedHeapBytesPerGuest { get; init; }

    public DaemonStatsDelta? Delta { get; init; }
}
