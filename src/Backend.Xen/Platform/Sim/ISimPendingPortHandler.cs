namespace Backend.Xen.Platform.Sim;

/// <summary>Receives each port taken from a pending bitmap (a struct, so the drain allocates nothing).</summary>
internal interface ISimPendingPortHandler
{
    void OnPending(uint port);
}
