using Akka.Actor;

namespace Backend.Actors.Vif;

/// <summary>
/// Turns a xenstore watch's events into at most one message in the receiver's mailbox: a frontend that
/// writes its <c>state</c> in a loop fires a watch event per write, and a message (and a READ) per event
/// would let it flood the daemon's one xenstore connection, delaying every other vif. The receiver calls
/// <see cref="Take"/> before it reads the node, so an event that comes during the read is not lost: it
/// tells once more, and the node is read again.
/// </summary>
internal sealed class CoalescedWatch(IActorRef receiver, object message)
{
    private int _pending;

    /// <summary>The watch fired (on the xenstore client's thread).</summary>
    public void OnEvent()
    {
        if (Interlocked.Exchange(ref _pending, 1) == 0)
            receiver.Tell(message);
    }

    /// <summary>The receiver is about to read the node: later events tell again.</summary>
    public void Take() => Volatile.Write(ref _pending, 0);
}
