using System.Net.Sockets;

namespace Backend.Xen.XenStore.Server;

/// <summary>
/// How the accept loop accepts and waits, replaceable by a test: running out of descriptors cannot be
/// provoked for one server alone (RLIMIT_NOFILE is the whole process's), so a test fails the accept itself.
/// </summary>
/// <param name="Accept">Accepts the next client from the listener.</param>
/// <param name="Delay">Waits before the next attempt after a failed accept.</param>
internal sealed record XenStoreAcceptHooks(
    Func<Socket, CancellationToken, ValueTask<Socket>> Accept,
    Func<TimeSpan, CancellationToken, Task> Delay)
{
    public static XenStoreAcceptHooks Default { get; } = new(
        static (listener, cancellationToken) => listener.AcceptAsync(cancellationToken),
        static (delay, cancellationToken) => Task.Delay(delay, cancellationToken));
}
