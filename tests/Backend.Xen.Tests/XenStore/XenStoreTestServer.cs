using Backend.Xen.XenStore;
using Backend.Xen.XenStore.Server;

namespace Backend.Xen.Tests.XenStore;

/// <summary>An embedded server on a socket in a fresh short temporary directory (sun_path holds 108 bytes).</summary>
internal sealed class XenStoreTestServer : IAsyncDisposable
{
    private readonly DirectoryInfo _directory;

    private XenStoreTestServer(DirectoryInfo directory, XenStoreServer server)
    {
        _directory = directory;
        Server = server;
    }

    public XenStoreServer Server { get; }

    public string SocketPath => Server.SocketPath;

    public static async Task<XenStoreTestServer> StartAsync(XenStoreServerOptions? options = null, XenStoreAcceptHooks? acceptHooks = null)
    {
        var directory = Directory.CreateTempSubdirectory("xnb-xs-");
        var server = await XenStoreServer.StartAsync(Path.Combine(directory.FullName, "xenstored.sock"), options, acceptHooks ?? XenStoreAcceptHooks.Default);
        return new XenStoreTestServer(directory, server);
    }

    public Task<XenStoreClient> ConnectAsync() => XenStoreClient.ConnectAsync(SocketPath);

    public async ValueTask DisposeAsync()
    {
        await Server.DisposeAsync();
        _directory.Delete(recursive: true);
    }
}
