namespace Backend.Xen.Netback;

/// <summary>What one <see cref="RxQueue.Collect"/> leaves its caller to do.</summary>
public enum RxPass
{
    /// <summary>Nothing until a frame comes or the frontend posts buffers (req_event is set when it has too few).</summary>
    Idle,

    /// <summary>Frames were planned: run <see cref="RxQueue.Copies"/>, then <see cref="RxQueue.Complete"/>, then take another pass.</summary>
    Copy,

    /// <summary>Too few buffers were posted, but req_prod moved meanwhile: take another pass at the next turn.</summary>
    More,

    /// <summary>The frontend's req_prod is impossible (<see cref="RxQueue.Fault"/>): the queue has stopped; disable the vif.</summary>
    Fatal,
}
