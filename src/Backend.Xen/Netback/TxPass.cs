namespace Backend.Xen.Netback;

/// <summary>
/// What one <see cref="TxQueue.Collect"/> did. With <see cref="Copy"/>, the queue's copies are to be run
/// and <see cref="TxQueue.Complete"/> called once they are back (and then another pass taken); without,
/// <see cref="TxQueue.Complete"/> answers what the pass consumed and <see cref="Next"/> says what follows.
/// </summary>
/// <param name="Copy">The pass planned grant copies (<see cref="TxQueue.Copies"/>).</param>
/// <param name="Next">For a pass without copies: what to do once it is complete.</param>
/// <param name="Fatal">The frontend broke the protocol in this pass (<see cref="TxQueue.Fault"/>): the
/// queue consumes nothing more and the vif is to be disabled. Packets consumed before it are still answered.</param>
/// <param name="CreditWait">With <see cref="TxNext.Credit"/>: how long until the credit may cover the head packet.</param>
public readonly record struct TxPass(bool Copy, TxNext Next, bool Fatal, TimeSpan CreditWait);
