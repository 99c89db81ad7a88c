namespace Backend.Xen.XenStore;

/// <summary>
/// One permission in xs_wire text form: a letter (<c>n</c> none, <c>r</c> read, <c>w</c> write, <c>b</c>
/// both) and a domain id. The first entry of a node's list names its owner and the access of everyone not
/// listed.
/// </summary>
public static class XenStorePermission
{
    /// <summary>Whether <paramref name="permission"/> is a letter and a decimal domid that fits 16 bits.</summary>
    public static bool IsValid(string permission)
    {
        if (permission.Length < 2 || permission.Length > 6 || permission[0] is not ('n' or 'r' or 'w' or 'b'))
            return false;
        uint domid = 0;
        for (var i = 1; i < permission.Length; i++)
        {
            var c = permission[i];
            if (c is < '0' or > '9')
                return false;
            domid = (domid * 10) + (uint)(c - '0');
        }
        return domid <= ushort.MaxValue;
    }
}
