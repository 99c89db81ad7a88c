using System.Runtime.InteropServices;

namespace Backend.Xen.Tests.Linux;

/// <summary>
/// A named pipe in a temporary directory: opened read-write it is a descriptor that is never readable
/// until someone writes to it and refuses every ioctl, a quiet stand-in for a Xen device.
/// </summary>
internal sealed partial class TestFifo : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("xnb-fifo-");

    public TestFifo()
    {
        Path = System.IO.Path.Combine(_dir.FullName, "device");
        Assert.True(MkFifo(Path, 0x180) == 0, $"mkfifo {Path}: errno {Marshal.GetLastPInvokeError()}");
    }

    public string Path { get; }

    public void Dispose() => _dir.Delete(recursive: true);

    [LibraryImport("libc", EntryPoint = "mkfifo", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int MkFifo(string path, uint mode);
}
