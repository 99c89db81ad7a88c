using System.Text;
using Tmds.Linux;
using static Tmds.Linux.LibC;

namespace Backend.Xen.Platform.Sim;

/// <summary>
/// The few system calls SIMXEN needs beyond what .NET offers (stat by inode, O_EXCL creation with mode
/// 0600, non-blocking datagrams without exceptions), in one place.
/// </summary>
internal static unsafe class SimNative
{
    /// <summary>A path as the NUL-terminated bytes the kernel wants, made once and kept.</summary>
    public static byte[] PathBytes(string path)
    {
        var bytes = new byte[Encoding.UTF8.GetByteCount(path) + 1];
        Encoding.UTF8.GetBytes(path, bytes);
        return bytes;
    }

    /// <summary>The identity of the file at <paramref name="path"/>, or false when there is none.</summary>
    public static bool TryStat(byte[] path, out SimFileIdentity identity)
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
        identity = new SimFileIdentity((ulong)st.st_dev, (ulong)st.st_ino, (long)st.st_size);
        return true;
    }

    public static SimFileIdentity FStat(SimFileDescriptor fd, string path)
    {
        stat st;
        if (fstat(fd.Value, &st) != 0)
            throw Error("fstat", path);
        return new SimFileIdentity((ulong)st.st_dev, (ulong)st.st_ino, (long)st.st_size);
    }

    /// <summary>Opens a file; returns null when it does not exist.</summary>
    public static SimFileDescriptor? Open(string path, int flags)
    {
        var bytes = PathBytes(path);
        int fd;
        fixed (byte* p = bytes)
            fd = open(p, flags | O_CLOEXEC, 0x180 /* 0600 */);
        if (fd >= 0)
            return new SimFileDescriptor(fd);
        if (errno == ENOENT)
            return null;
        throw Error("open", path);
    }

    public static void Truncate(SimFileDescriptor fd, long length, string path)
    {
        if (ftruncate(fd.Value, length) != 0)
            throw Error("ftruncate", path);
    }

    /// <summary>Removes a file if it is there.</summary>
    public static void Unlink(string path)
    {
        var bytes = PathBytes(path);
        fixed (byte* p = bytes)
        {
            if (unlink(p) != 0 && errno != ENOENT)
                throw Error("unlink", path);
        }
    }

    /// <summary>Maps <paramref name="length"/> bytes of a file MAP_SHARED, read-write or read-only.</summary>
    public static byte* Map(SimFileDescriptor fd, nuint length, long offset, bool writable, string path)
    {
        var address = mmap(null, (size_t)length, PROT_READ | (writable ? PROT_WRITE : 0), MAP_SHARED, fd.Value, offset);
        if (address == MAP_FAILED)
            throw Error("mmap", path);
        return (byte*)address;
    }

    public static void Unmap(byte* address, nuint length) => munmap(address, (size_t)length);

    /// <summary>A non-blocking, unbound datagram socket used only to send wake-ups.</summary>
    public static SimFileDescriptor DatagramSocket()
    {
        var fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
            throw Error("socket", "AF_UNIX");
        return new SimFileDescriptor(fd);
    }

    /// <summary>
    /// Sends one datagram without blocking; false when it was not sent (full queue, nobody bound).
    /// </summary>
    public static bool TrySend(SimFileDescriptor socket, ReadOnlySpan<byte> datagram, in SimSocketAddress address)
    {
        bool added = false;
        try
        {
            socket.DangerousAddRef(ref added);
            fixed (byte* d = datagram)
            fixed (sockaddr_un* a = &address.Value)
                return sendto(socket.Value, d, (size_t)datagram.Length, MSG_DONTWAIT | MSG_NOSIGNAL, (sockaddr*)a, (uint)sizeof(sockaddr_un)) == datagram.Length;
        }
        finally
        {
            if (added)
                socket.DangerousRelease();
        }
    }

    /// <summary>A span over local memory named by address, as a gntdev copy's local side is.</summary>
    public static Span<byte> LocalSpan(nint address, int length) => new((void*)address, length);

    private static IOException Error(string call, string path)
    {
        var e = errno;
        return new IOException($"{call} {path}: {Describe(e)} (errno {e})", e);
    }

    private static string Describe(int e) => new System.ComponentModel.Win32Exception(e).Message;
}
