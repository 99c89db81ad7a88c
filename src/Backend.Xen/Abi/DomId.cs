namespace Backend.Xen.Abi;

/// <summary>
/// Domain ids as <c>xen/xen.h</c> reserves them: real domains are below <see cref="FirstReserved"/>; the
/// ids from there up name no domain but a role (<see cref="Self"/>, DOMID_IO, ...). A domid read from
/// xenstore or a command line is checked against <see cref="Max"/>.
/// </summary>
public static class DomId
{
    /// <summary><c>DOMID_FIRST_RESERVED</c>.</summary>
    public const ushort FirstReserved = 0x7FF0;

    /// <summary><c>DOMID_SELF</c>: "the calling domain" in a grant copy or map.</summary>
    public const ushort Self = 0x7FF0;

    /// <summary>The highest id a domain can have (<c>DOMID_FIRST_RESERVED - 1</c>, 32751).</summary>
    public const ushort Max = FirstReserved - 1;

    /// <summary>True when <paramref name="domid"/> can name a domain (not a reserved id).</summary>
    public static bool IsDomain(long domid) => domid is >= 0 and <= Max;
}
