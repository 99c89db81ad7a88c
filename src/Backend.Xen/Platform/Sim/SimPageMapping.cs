using Backend.Xen.Platform.Native;

namespace Backend.Xen.Platform.Sim;

/// <summary>One page of a foreign memory file mapped MAP_SHARED on its own, as a ring page is.</summary>
internal sealed unsafe class SimPageMapping(byte* address)
{
    private byte* _address = address;

    public nint Address => (nint)_address;

    public Span<byte> Span => new(_address, SimRoot.PageSize);

    /// <summary>Unmaps once; later calls do nothing.</summary>
    public void Unmap()
    {
        var address = _address;
        _address = null;
        if (address != null)
            FileDescriptor.Unmap(address, SimRoot.PageSize);
    }
}
