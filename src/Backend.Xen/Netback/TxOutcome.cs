namespace Backend.Xen.Netback;

/// <summary>What <see cref="TxPacketParser.Parse"/> found at the ring's request consumer.</summary>
public enum TxOutcome
{
    /// <summary>No unconsumed request: nothing to do.</summary>
    Empty,

    /// <summary>
    /// The packet's slots or extras are not all pushed yet. Nothing is consumed; the caller sets
    /// req_event = req_prod + 1 and parses again when notified (SIMXEN: Linux would call this fatal).
    /// </summary>
    Partial,

    /// <summary>A valid packet: plan its copies, then answer every slot.</summary>
    Packet,

    /// <summary>
    /// An invalid but survivable packet (<see cref="TxError"/>): consume its slots, answer every data
    /// slot with ERROR and every extra with NULL, deliver nothing.
    /// </summary>
    Error,

    /// <summary>
    /// A request carrying a multicast add/del extra. As Linux's xenvif_tx_build_gops, only the first slot
    /// and its extras are consumed and answered (by the vif's <see cref="MulticastFilter.Apply"/>: OKAY, or
    /// ERROR for an add to a full list); no frame is delivered.
    /// </summary>
    MulticastControl,

    /// <summary>
    /// The frontend broke the protocol (<see cref="TxFault"/>): disable the vif, consume nothing more,
    /// write no response (as Linux's xenvif_fatal_tx_err).
    /// </summary>
    Fatal,
}
