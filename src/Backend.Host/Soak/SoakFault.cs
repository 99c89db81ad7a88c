namespace Backend.Host.Soak;

/// <summary>One fault of the schedule: when (seconds into the chaos phase), what, and to whom.</summary>
/// <param name="Guest">Index of the well-behaved guest it hits (ring fault, vif re-added, reconnect), else -1.</param>
/// <param name="Detail">tx or rx for a ring fault; the hostile class for a hostile frontend.</param>
internal sealed record SoakFault(double At, string Kind, int Guest, string? Detail)
{
    public const string RingFault = "ring-fault";
    public const string GuestKilled = "guest-process-killed";
    public const string VifReadded = "vif-removed-and-readded";
    public const string Reconnect = "frontend-reconnects";
    public const string Hostile = "hostile-frontend";
    public const string DaemonSigterm = "daemon-sigterm-restart";
    public const string DaemonSigkill = "daemon-sigkill-restart";
    public const string XenStoreRestarted = "xenstore-restarted";

    public override string ToString() =>
        $"{At,7:F1} s  {Kind}{(Guest >= 0 ? $" guest#{Guest}" : "")}{(Detail is null ? "" : $" {Detail}")}";
}
