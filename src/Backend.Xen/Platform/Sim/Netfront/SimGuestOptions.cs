using System.Net;
using System.Net.Sockets;

namespace Backend.Xen.Platform.Sim.Netfront;

/// <summary>
/// A simulated guest run as its own process (the host's <c>sim-guest</c> subcommand) or task: which
/// domain and vif it is, its IPv4 address, and what it does. Checked by <see cref="Validate"/>, whose
/// messages name the setting.
/// </summary>
public sealed record SimGuestOptions
{
    /// <summary>The sim root (at most 79 characters).</summary>
    public required string Root { get; init; }

    public required ushort DomId { get; init; }

    public int Handle { get; init; }

    public ushort BackendDomId { get; init; }

    /// <summary>The vif's MAC; needed with <see cref="CreateVif"/>, else read from the frontend dir.</summary>
    public string? Mac { get; init; }

    public required IPAddress Ip { get; init; }

    public SimGuestMode Mode { get; init; } = SimGuestMode.Echo;

    /// <summary>The peer for <see cref="SimGuestMode.Ping"/> and <see cref="SimGuestMode.Stream"/>.</summary>
    public IPAddress? PeerIp { get; init; }

    /// <summary>Pings or frames to send.</summary>
    public int Count { get; init; } = 4;

    /// <summary>Echo mode: stop (and close) once this many frames other than ARP/ICMP have arrived; 0 runs until cancelled.</summary>
    public long StopAfterFrames { get; init; }

    /// <summary>Bytes per frame in <see cref="SimGuestMode.Stream"/> (Ethernet header included), 60..65535.</summary>
    public int FrameSize { get; init; } = 1514;

    /// <summary>Between pings.</summary>
    public TimeSpan Interval { get; init; } = TimeSpan.Zero;

    /// <summary>How long to wait for the handshake, and for each ping's answer.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>The xenstore socket; <c>ROOT/xenstored.sock</c> when null.</summary>
    public string? XenStorePath { get; init; }

    /// <summary>Play the toolstack too: create the vif first, remove it and <c>ROOT/dom&lt;D&gt;/</c> at the end.</summary>
    public bool CreateVif { get; init; }

    public string Bridge { get; init; } = "xenbr0";

    public int Mtu { get; init; } = 1500;

    public bool SplitEventChannels { get; init; }

    /// <summary>Where progress lines go (stdout when null).</summary>
    public TextWriter? Output { get; init; }

    public void Validate()
    {
        if (string.IsNullOrEmpty(Root))
            throw new ArgumentException($"{nameof(Root)} is required");
        if (DomId == 0 || DomId >= Abi.DomId.FirstReserved)
            throw new ArgumentException($"{nameof(DomId)} {DomId} is not a guest domain id");
        if (Ip is null || Ip.AddressFamily != AddressFamily.InterNetwork)
            throw new ArgumentException($"{nameof(Ip)} must be an IPv4 address");
        if (Mode != SimGuestMode.Echo && (PeerIp is null || PeerIp.AddressFamily != AddressFamily.InterNetwork))
            throw new ArgumentException($"{nameof(PeerIp)} (IPv4) is required in {Mode} mode");
        if (Count < 0)
            throw new ArgumentException($"{nameof(Count)} {Count} is negative");
        if (FrameSize is < 60 or > 65535)
            throw new ArgumentException($"{nameof(FrameSize)} {FrameSize} is outside 60..65535");
        if (CreateVif && Mac is null)
            throw new ArgumentException($"{nameof(Mac)} is required with {nameof(CreateVif)}");
        if (StopAfterFrames < 0)
            throw new ArgumentException($"{nameof(StopAfterFrames)} {StopAfterFrames} is negative");
        if (Timeout <= TimeSpan.Zero)
            throw new ArgumentException($"{nameof(Timeout)} must be positive");
    }
}
