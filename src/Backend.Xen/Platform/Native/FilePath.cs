using System.Text;
using Tmds.Linux;
using static Tmds.Linux.LibC;

namespace Backend.Xen.Platform.Native;

/// <summary>
/// The calls on a path rather than a descriptor (stat, unlink), with the path as the NUL-terminated bytes
/// the kernel wants; a caller that looks at the same path often makes them once (<see cref="ToBytes"/>).
/// </summary>
internal static unsafe class FilePath
{
    public static byte[] ToBytes(string path)
    {
        var bytes = new byte[Encoding.UTF8.GetByteCount(path) + 1];
        Encoding.UTF8.GetBytes(path, bytes);
        return bytes;
    }

    /// <summary>The identity of the file at <paramref name="path"/> (NUL-terminated), or false when there is none.</summary>
    public static bool TryStat(byte[] path, out FileIdentity identity)
    {
        stat st;
        fixed (byte* p = path)
        {
            if (stat(p, &st) != 0)
            {
                identity = default;
                return false;
            }
        }
        identity = new FileIdentity((ulong)st.st_dev, (ulong)st.st_ino, (long)st.st_size);
        return true;
    }

    /// <summary>Removes a file if it is there.</summary>
    public static void Unlink(string path)
    {
        fixed (byte* p = ToBytes(path))
        {
            if (unlink(p) != 0 && Errno.Last is var errno && errno != Errno.ENOENT)
                throw new LinuxDeviceException(path, "unlink", errno);
        }
    }
}
