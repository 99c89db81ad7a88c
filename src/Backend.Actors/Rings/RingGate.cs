namespace Backend.Actors.Rings;

/// <summary>
/// Holds every ring actor of the daemon while the vifs found at start re-attach: SIMXEN promises that
/// the daemon re-attaches to all of them and binds again "all before it processes any ring", so that a
/// frame queued on one guest's TX ring while no backend ran is not flooded to a bridge whose other
/// ports are not back yet (and dropped there). The xenbus supervisor closes it when it starts and opens
/// it once each of those vifs has acted on its frontend's state; open by default for anything else.
/// </summary>
public sealed class RingGate
{
    private volatile bool _open = true;

    public bool IsOpen => _open;

    public void Close() => _open = false;

    public void Open() => _open = true;
}
