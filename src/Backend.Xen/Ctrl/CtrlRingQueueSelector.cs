using Backend.Xen.Netback;

namespace Backend.Xen.Ctrl;

/// <summary>
/// The steering of a vif whose frontend has a control ring, as Linux's <c>xenvif_select_queue</c>: once the
/// frontend chose an algorithm, the Toeplitz hash of the frame's flow through its mapping table
/// (<see cref="VifHashConfig.SelectQueue"/>); while the algorithm is NONE, the backend's own flow hash
/// (<see cref="FlowHashQueueSelector"/>). The configuration is read afresh per frame, so what the frontend
/// sets applies to the next frame without the port or the reader being told.
/// </summary>
public sealed class CtrlRingQueueSelector(VifHash hash) : IRxQueueSelector
{
    public int Select(ReadOnlySpan<byte> frame, int queueCount)
    {
        if (queueCount <= 1)
            return 0;
        var queue = hash.Current.SelectQueue(frame, queueCount);
        return queue >= 0 ? queue : FlowHashQueueSelector.Instance.Select(frame, queueCount);
    }
}
