namespace Backend.Xen.Netback;

/// <summary>
/// Picks the queue of a multi-queue vif that a frame for its guest goes to (Linux's <c>xenvif_select_queue</c>).
/// The one seam of RX steering: <see cref="FlowHashQueueSelector"/> until the frontend sets a hash
/// algorithm over the control ring, whose vif's bridge port and TAP reader are given a
/// <see cref="Ctrl.CtrlRingQueueSelector"/> when it connects with a control ring.
/// Called per frame on the sender's thread: allocation-free, and safe from several threads at once.
/// </summary>
public interface IRxQueueSelector
{
    /// <summary>The queue, 0 to <paramref name="queueCount"/> − 1, that <paramref name="frame"/> (from its Ethernet header) goes to.</summary>
    int Select(ReadOnlySpan<byte> frame, int queueCount);
}
