namespace Backend.Xen.Netback;

/// <summary>
/// The steering without a control ring, as Linux's <c>xenvif_select_queue</c> with no hash algorithm set
/// (<c>netdev_pick_tx % real_num_tx_queues</c>): the frame's <see cref="FlowHash"/> modulo the queue count,
/// so one flow stays on one queue and in order; a frame that is not IP goes to queue 0.
/// </summary>
public sealed class FlowHashQueueSelector : IRxQueueSelector
{
    public static readonly FlowHashQueueSelector Instance = new();

    private FlowHashQueueSelector()
    {
    }

    public int Select(ReadOnlySpan<byte> frame, int queueCount)
    {
        if (queueCount <= 1 || !FlowHash.TryCompute(frame, out var hash))
            return 0;
        return (int)(hash % (uint)queueCount);
    }
}
