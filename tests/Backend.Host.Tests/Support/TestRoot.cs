namespace Backend.Host.Tests.Support;

/// <summary>A fresh sim root path under /dev/shm for one test, removed at the end.</summary>
public sealed class TestRoot : IDisposable
{
    public TestRoot() => Path = $"/dev/shm/xnbh-{Environment.ProcessId}-{Guid.NewGuid():N}"[..40];

    public string Path { get; }

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}
