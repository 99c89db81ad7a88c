namespace Backend.Xen.XenStore;

/// <summary><c>enum xsd_sockmsg_type</c> of xs_wire.h, with Xen's numbers.</summary>
public enum XenStoreMessageType : uint
{
    /// <summary>XS_CONTROL, also XS_DEBUG.</summary>
    Control = 0,
    Directory = 1,
    Read = 2,
    GetPerms = 3,
    Watch = 4,
    Unwatch = 5,
    TransactionStart = 6,
    TransactionEnd = 7,
    Introduce = 8,
    Release = 9,
    GetDomainPath = 10,
    Write = 11,
    Mkdir = 12,
    Rm = 13,
    SetPerms = 14,
    WatchEvent = 15,
    Error = 16,
    IsDomainIntroduced = 17,
    Resume = 18,
    SetTarget = 19,

    // 20 was XS_RESTRICT, removed from Xen; the number stays unused.
    ResetWatches = 21,
    DirectoryPart = 22,

    /// <summary>XS_TYPE_COUNT: the number of valid types.</summary>
    TypeCount = 23,

    /// <summary>XS_INVALID: guaranteed to remain an invalid type.</summary>
    Invalid = 0xffff,
}
