namespace Backend.Xen.Xenbus;

/// <summary>
/// One queue's ring pair and event channels as its frontend wrote them (Linux's <c>connect_data_rings</c>):
/// under the frontend's directory for a one-queue frontend, under <c>queue-N/</c> for queue N of a
/// multi-queue one. Guest-controlled, parsed strictly (<see cref="FrontendConfig.ReadAsync"/>).
/// </summary>
/// <param name="SplitEventChannels">Whether the queue has an event channel per ring (<c>event-channel-tx</c>/<c>-rx</c>).</param>
public sealed record QueueRings(uint TxRingRef, uint RxRingRef, uint TxEventChannel, uint RxEventChannel, bool SplitEventChannels);
