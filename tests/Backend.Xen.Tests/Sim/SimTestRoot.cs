using Backend.Xen.Platform.Sim;

namespace Backend.Xen.Tests.Sim;

/// <summary>A fresh sim root in shared memory (short enough for sun_path), removed afterwards.</summary>
public sealed class SimTestRoot : IDisposable
{
    public SimTestRoot()
    {
        var parent = Directory.Exists("/dev/shm") ? "/dev/shm" : Path.GetTempPath();
        DirectoryPath = System.IO.Path.Combine(parent, "xnb-t-" + Guid.NewGuid().ToString("N")[..10]);
        Root = new SimRoot(DirectoryPath);
    }

    public string DirectoryPath { get; }

    public SimRoot Root { get; }

    public void Dispose()
    {
        try
        {
            Directory.Delete(DirectoryPath, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
        }
    }
}
