namespace Backend.Xen.Platform.Native;

/// <summary>
/// Which file a path named when it was looked at: a domain that restarts creates new files under the
/// same names, so (device, inode) tells whether what we hold is still the domain's current file.
/// </summary>
internal readonly record struct FileIdentity(ulong Device, ulong Inode, long Size);
