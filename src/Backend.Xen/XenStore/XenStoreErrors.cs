namespace Backend.Xen.XenStore;

/// <summary>
/// The error names of xs_wire.h's <c>xsd_errors</c>, in its order. An ERROR reply carries one of these as a
/// NUL-terminated string.
/// </summary>
public static class XenStoreErrors
{
    public const string EINVAL = nameof(EINVAL);
    public const string EACCES = nameof(EACCES);
    public const string EEXIST = nameof(EEXIST);
    public const string EISDIR = nameof(EISDIR);
    public const string ENOENT = nameof(ENOENT);
    public const string ENOMEM = nameof(ENOMEM);
    public const string ENOSPC = nameof(ENOSPC);
    public const string EIO = nameof(EIO);
    public const string ENOTEMPTY = nameof(ENOTEMPTY);
    public const string ENOSYS = nameof(ENOSYS);
    public const string EROFS = nameof(EROFS);
    public const string EBUSY = nameof(EBUSY);
    public const string EAGAIN = nameof(EAGAIN);
    public const string EISCONN = nameof(EISCONN);
    public const string E2BIG = nameof(E2BIG);
    public const string EPERM = nameof(EPERM);

    public static IReadOnlyList<string> All { get; } =
    [
        EINVAL, EACCES, EEXIST, EISDIR, ENOENT, ENOMEM, ENOSPC, EIO, ENOTEMPTY, ENOSYS, EROFS, EBUSY, EAGAIN,
        EISCONN, E2BIG, EPERM,
    ];
}
