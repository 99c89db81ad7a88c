using Backend.Xen.Platform.Sim;

namespace Backend.Xen.Tests.Sim;

internal static class SimNativeForTests
{
    public static bool TryStat(byte[] path, out ulong inode)
    {
        var found = SimNative.TryStat(path, out var identity);
        inode = identity.Inode;
        return found;
    }
}
