using Backend.Xen.Xenbus;

namespace Backend.Actors.Vif;

/// <summary>The messages of <see cref="VifConnectionActor"/> and of its parent about it.</summary>
internal static class VifProtocol
{
    /// <summary>Read the backend directory and set the watches (sent to itself at start).</summary>
    public sealed record Start
    {
        public static readonly Start Instance = new();
    }

    /// <summary>The frontend's <c>state</c> node fired its watch.</summary>
    public sealed record FrontendStateChanged
    {
        public static readonly FrontendStateChanged Instance = new();
    }

    /// <summary>The backend's <c>hotplug-status</c> node fired its watch.</summary>
    public sealed record HotplugStatusChanged
    {
        public static readonly HotplugStatusChanged Instance = new();
    }

    /// <summary>The backend's <c>rate</c> node fired its watch (Linux's credit watch).</summary>
    public sealed record RateChanged
    {
        public static readonly RateChanged Instance = new();
    }

    /// <summary>The frontend's <c>request-multicast-control</c> node fired its watch (Linux's <c>mcast_ctrl_watch</c>).</summary>
    public sealed record MulticastControlChanged
    {
        public static readonly MulticastControlChanged Instance = new();
    }

    /// <summary>A ring actor met a fatal protocol error: stop serving the frontend (carrier off).</summary>
    public sealed record DisableVif(string Reason);

    /// <summary>
    /// From the RX ring actor: its guest left frames waiting for buffers for the stall timeout
    /// (<paramref name="Stalled"/>), or takes frames again (Linux's <c>xenvif_queue_carrier_off/on</c>).
    /// </summary>
    public sealed record RxStall(bool Stalled);

    /// <summary>To the supervisor: the vif has acted on its frontend's first state (attached or not).</summary>
    public sealed record Settled(VifId Vif);

    /// <summary>From the supervisor: the ring gate is open, look at the rings.</summary>
    public sealed record KickRings
    {
        public static readonly KickRings Instance = new();
    }

    /// <summary>To the supervisor: the vif went Closed while offline (or its frontend vanished).</summary>
    public sealed record VifForgotten(VifId Vif);
}
