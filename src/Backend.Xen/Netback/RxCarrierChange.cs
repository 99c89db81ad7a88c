namespace Backend.Xen.Netback;

/// <summary>What <see cref="RxQueue.Watch"/> found of the frontend's receive side (Linux's <c>xenvif_queue_carrier_off/on</c>).</summary>
public enum RxCarrierChange
{
    /// <summary>No change.</summary>
    None,

    /// <summary>Frames waited for buffers the frontend did not post for the stall timeout: the queue stalled, turn the carrier off.</summary>
    Off,

    /// <summary>A stalled queue's frontend posts buffers again: turn the carrier back on.</summary>
    On,
}
