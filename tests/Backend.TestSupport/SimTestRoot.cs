using Backend.Xen.Platform.Sim;
using Backend.Xen.XenStore;
using Backend.Xen.XenStore.Server;

namespace Backend.TestSupport;

/// <summary>
/// A fresh sim root for one test under /dev/shm (short enough for <c>sun_path</c>, and named after the
/// test process so that leftovers can be told apart), removed at the end with whatever the test left in
/// it. <see cref="WithXenStoreAsync"/> also serves our embedded xenstore on ROOT/xenstored.sock, where
/// SIMXEN's guests look for it; disposing closes the connections made with <see cref="ConnectAsync"/>,
/// then the server, then removes the root.
/// </summary>
/// <remarks>
/// The directory is made by the first use of <see cref="Root"/> (SimRoot makes it), not before: a test
/// that hands only <see cref="Path"/> to a daemon process leaves that to the daemon.
/// </remarks>
public sealed class SimTestRoot : IDisposable, IAsyncDisposable
{
    private readonly List<XenStoreClient> _clients = [];
    private XenStoreServer? _server;
    private SimRoot? _root;

    public SimTestRoot()
    {
        var parent = Directory.Exists("/dev/shm") ? "/dev/shm" : System.IO.Path.GetTempPath();
        Path = System.IO.Path.Combine(parent, $"xnbt-{Environment.ProcessId}-{Guid.NewGuid():N}"[..28]);
    }

    public string Path { get; }

    public SimRoot Root => _root ??= new SimRoot(Path);

    /// <summary>The embedded xenstore server; only a root made by <see cref="WithXenStoreAsync"/> has one.</summary>
    public XenStoreServer Server => _server ?? throw new InvalidOperationException("this sim root serves no xenstore (make it with WithXenStoreAsync)");

    public string XenStoreSocket => System.IO.Path.Combine(Path, "xenstored.sock");

    /// <summary>A root with the embedded xenstore server on ROOT/xenstored.sock.</summary>
    public static async Task<SimTestRoot> WithXenStoreAsync()
    {
        var root = new SimTestRoot();
        try
        {
            _ = root.Root;
            root._server = await XenStoreServer.StartAsync(root.XenStoreSocket);
            return root;
        }
        catch
        {
            root.Dispose();
            throw;
        }
    }

    /// <summary>A new connection to the embedded server, closed with the root.</summary>
    public async Task<XenStoreClient> ConnectAsync()
    {
        var client = await XenStoreClient.ConnectAsync(XenStoreSocket);
        lock (_clients)
            _clients.Add(client);
        return client;
    }

    /// <summary>Removes the root; one that serves xenstore is disposed with <see cref="DisposeAsync"/>.</summary>
    public void Dispose()
    {
        if (_server is not null)
            throw new InvalidOperationException("a sim root that serves xenstore is disposed with DisposeAsync (await using)");
        RemoveDirectory();
    }

    public async ValueTask DisposeAsync()
    {
        XenStoreClient[] clients;
        lock (_clients)
        {
            clients = [.. _clients];
            _clients.Clear();
        }
        foreach (var client in clients)
            await client.DisposeAsync();
        if (_server is not null)
            await _server.DisposeAsync();
        _server = null;
        RemoveDirectory();
    }

    private void RemoveDirectory()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
            // Gone already, or a process the test started still writes in it: a leftover, not a failure.
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
