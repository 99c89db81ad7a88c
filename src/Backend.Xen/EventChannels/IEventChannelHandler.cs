namespace Backend.Xen.EventChannels;

/// <summary>
/// Receives notifications for one bound port. Called on the platform's single receive thread/loop (or,
/// for a late-EOI port, on the thread whose late EOI delivers an event held while the port was masked),
/// so an implementation only hands the event on (for example, tells an actor a cached message) and returns.
/// </summary>
public interface IEventChannelHandler
{
    void OnEvent(uint localPort);
}
