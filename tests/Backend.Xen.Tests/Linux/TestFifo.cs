using System.Runtime.InteropServices;
using Backend.Xen.Platform.Native;

namespace Backend.Xen.Tests.Linux;

/// <summary>
/// A named pipe in a temporary directory: opened read-write it is a descriptor that is never readable
/// until someone writes to it and refuses every ioctl, a quiet stand-in for a Xen device.
/// </summary>
internal sealed class TestFifo : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("xnb-fifo-");

    public TestFifo()
    {
        Path = System.IO.Path.Combine(_dir.FullName, "device");
        Assert.True(MkFifo(Path) == 0, $"mkfifo {Path}: errno {Marshal.GetLastPInvokeError()}");
    }

    public string Path { get; }

    public void Dispose() => _dir.Delete(recursive: true);

    /// <summary>mkfifo(2) with mode 0600.</summary>
    private static unsafe int MkFifo(string path)
    {
        fixed (byte* p = FilePath.ToBytes(path))
            return Tmds.Linux.LibC.mkfifo(p, 0x180);
    }
}
