using Backend.Xen.Platform.Sim;
using Backend.Xen.XenStore;
using Backend.Xen.XenStore.Server;

namespace Backend.Xen.Tests.Netfront;

/// <summary>
/// A fresh sim root under /dev/shm (removed at the end) with our embedded xenstore server on
/// ROOT/xenstored.sock and one client connection to it.
/// </summary>
public sealed class SimTestRoot : IAsyncDisposable
{
    private readonly List<XenStoreClient> _clients = [];

    private SimTestRoot(string path, XenStoreServer server)
    {
        Path = path;
        Root = new SimRoot(path);
        Server = server;
    }

    public string Path { get; }

    public SimRoot Root { get; }

    public XenStoreServer Server { get; }

    public string XenStoreSocket => System.IO.Path.Combine(Path, "xenstored.sock");

    public static async Task<SimTestRoot> CreateAsync()
    {
        var baseDir = Directory.Exists("/dev/shm") ? "/dev/shm" : System.IO.Path.GetTempPath();
        var path = System.IO.Path.Combine(baseDir, "xnbnf-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(path);
        try
        {
            var server = await XenStoreServer.StartAsync(System.IO.Path.Combine(path, "xenstored.sock"));
            return new SimTestRoot(path, server);
        }
        catch
        {
            Directory.Delete(path, recursive: true);
            throw;
        }
    }

    /// <summary>A new connection, closed with the root.</summary>
    public async Task<XenStoreClient> ConnectAsync()
    {
        var client = await XenStoreClient.ConnectAsync(XenStoreSocket);
        lock (_clients)
            _clients.Add(client);
        return client;
    }

    public async ValueTask DisposeAsync()
    {
        XenStoreClient[] clients;
        lock (_clients)
            clients = [.. _clients];
        foreach (var client in clients)
            await client.DisposeAsync();
        await Server.DisposeAsync();
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
        }
    }
}
