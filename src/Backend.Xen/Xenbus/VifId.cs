namespace Backend.Xen.Xenbus;

/// <summary>A vif: the frontend domain and the device handle, as in <c>backend/vif/&lt;domid&gt;/&lt;handle&gt;</c>.</summary>
public readonly record struct VifId(ushort DomId, uint Handle)
{
    public override string ToString() => $"vif{DomId}.{Handle}";
}
