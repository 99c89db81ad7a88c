namespace Backend.Xen.Netback;

/// <summary>What a TX pass that planned no copies leaves its caller to do once it is complete.</summary>
public enum TxNext
{
    /// <summary>Nothing until the frontend notifies: the ring is empty or a packet waits for its last slots (req_event is set).</summary>
    Idle,

    /// <summary>The pass stopped at its bound, or more was pushed meanwhile: take another pass at the next turn.</summary>
    More,

    /// <summary>The packet at the head waits for credit: take another pass after <see cref="TxPass.CreditWait"/>.</summary>
    Credit,
}
