namespace Backend.Xen.Grants;

/// <summary>A grant operation that Xen (or SIMXEN) refused, with its GNTST_* status.</summary>
public sealed class GrantException(short status, string message) : Exception(message)
{
    public short Status { get; } = status;
}
