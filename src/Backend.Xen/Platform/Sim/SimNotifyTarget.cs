using Backend.Xen.Platform.Native;
using Tmds.Linux;

namespace Backend.Xen.Platform.Sim;

/// <summary>
/// What a notification to domain D' needs: D''s <c>evtchn-pending</c> mapped, the address of its
/// <c>evtchn</c> socket built once, and a socket of our own to send its wake-ups from. Reference counted:
/// the last release unmaps the bitmap and closes the socket.
/// <para>
/// A socket per target, not one per domain: a Unix datagram waiting in a receiver's queue is charged to
/// the socket that sent it. With one socket for every peer, guests that never read theirs (26 of them, 10
/// wake-ups each, fill the default 208 KiB) made every send fail, also to a guest whose queue was empty:
/// its bit stayed set, so every later notification was suppressed and the guest never woke again. SIMXEN
/// ignores a failed send because the receiver then has wake-ups queued; with a socket per target that is
/// true, since only the target's own queue can fill its socket.
/// </para>
/// </summary>
internal sealed class SimNotifyTarget
{
    private readonly FileDescriptor _socket;
    private SimReferenceCount _references = SimReferenceCount.One;

    /// <summary>Takes over <paramref name="pending"/>'s mapping; opened with one reference, the caller's.</summary>
    public SimNotifyTarget(ushort domid, SimEventChannelPending pending, SimSocketAddress address)
    {
        DomId = domid;
        Pending = pending;
        Address = address;
        _socket = FileDescriptor.Socket(LibC.AF_UNIX, LibC.SOCK_DGRAM | LibC.SOCK_NONBLOCK, $"notification socket to domain {domid} (AF_UNIX, SOCK_DGRAM)");
    }

    public ushort DomId { get; }

    public SimEventChannelPending Pending { get; }

    public SimSocketAddress Address { get; }

    public FileIdentity Identity => Pending.File.Identity;

    /// <summary>Sends one wake-up without blocking; false when it was not sent (the target's queue is full, or nobody is bound).</summary>
    public bool TrySend(ReadOnlySpan<byte> datagram) => _socket.TrySendTo(datagram, in Address.Value);

    /// <summary>Takes one more reference; false when the target has already been released.</summary>
    public bool TryAddReference() => _references.TryAdd();

    public void Release()
    {
        var left = _references.Release();
        if (left == 0)
            Close();
        else if (left < 0)
            throw new InvalidOperationException($"the notification target of domain {DomId} released more often than referenced");
    }

    /// <summary>At the last <see cref="Release"/>.</summary>
    private void Close()
    {
        Pending.File.Release();
        _socket.Dispose();
    }
}
