using System.Runtime.InteropServices;
using System.Text;

namespace Backend.Xen.Platform.Linux;

/// <summary>
/// <c>struct ifreq</c> (net/if.h, 40 bytes on 64-bit Linux) as TUNSETIFF, SIOC[GS]IFFLAGS, SIOCGIFINDEX
/// and SIOCBRADDIF use it: the name, then the union of which we use <c>ifr_flags</c> and <c>ifr_ifindex</c>.
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 40)]
internal unsafe struct IfReq
{
    [FieldOffset(0)]
    public fixed byte Name[TunIoctl.IFNAMSIZ];

    [FieldOffset(TunIoctl.IFNAMSIZ)]
    public short Flags;

    /// <summary><c>ifr_ifindex</c>, the other member of the union that <see cref="Flags"/> is in.</summary>
    [FieldOffset(TunIoctl.IFNAMSIZ)]
    public int IfIndex;

    public static IfReq For(string name, short flags = 0)
    {
        var request = new IfReq { Flags = flags };
        var bytes = new Span<byte>(request.Name, TunIoctl.IFNAMSIZ - 1);
        Encoding.ASCII.GetBytes(name, bytes);
        return request;
    }

    /// <summary>The NUL-terminated name the kernel wrote back.</summary>
    public string GetName()
    {
        fixed (byte* p = Name)
        {
            var span = new ReadOnlySpan<byte>(p, TunIoctl.IFNAMSIZ);
            var length = span.IndexOf((byte)0);
            return Encoding.ASCII.GetString(span[..(length < 0 ? TunIoctl.IFNAMSIZ : length)]);
        }
    }
}
