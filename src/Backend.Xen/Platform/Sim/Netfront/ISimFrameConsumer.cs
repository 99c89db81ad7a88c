namespace Backend.Xen.Platform.Sim.Netfront;

/// <summary>
/// Receives the frames a <see cref="SimNetfront"/> reassembled from its RX ring. Called on the guest's
/// event channel loop with a view that is only valid during the call: copy what must be kept, do not block.
/// </summary>
public interface ISimFrameConsumer
{
    void OnFrame(ReadOnlySpan<byte> frame, in SimRxFrameInfo info);
}
