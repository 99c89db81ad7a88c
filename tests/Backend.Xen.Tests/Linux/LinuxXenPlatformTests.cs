using System.Net.Sockets;
using Backend.Xen.Platform.Linux;
using Backend.Xen.XenStore;

namespace Backend.Xen.Tests.Linux;

/// <summary>The platform's wiring, over stand-in devices (no Xen here).</summary>
public sealed class LinuxXenPlatformTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("xnb-platform-");
    private readonly TestFifo _evtchn = new();

    public void Dispose()
    {
        _evtchn.Dispose();
        _dir.Delete(recursive: true);
    }

    private string In(string name) => Path.Combine(_dir.FullName, name);

    [Fact]
    public async Task The_xenstore_factory_gets_a_stream_connected_to_xenstore_and_copiers_have_their_own_descriptor()
    {
        using var xenstored = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        xenstored.Bind(new UnixDomainSocketEndPoint(In("socket")));
        xenstored.Listen(1);
        Stream? given = null;

        await using var platform = new LinuxXenPlatform(
            7, stream => { given = stream; return new UnusedXenStore(); }, "/dev/null", _evtchn.Path,
            new XenBusDevice(In("xenbus"), [In("socket")]), In("no-xen_netback"), null, null);

        Assert.Equal(7, platform.BackendDomId);
        Assert.IsType<UnusedXenStore>(await platform.ConnectXenStoreAsync());
        Assert.NotNull(given);
        using var server = await xenstored.AcceptAsync().WaitAsync(TimeSpan.FromSeconds(10));
        await given.WriteAsync(new byte[] { 1, 2 });
        Assert.Equal(2, await server.ReceiveAsync(new byte[2]));
        given.Dispose();

        var copier = platform.CreateGrantCopier();
        Assert.IsType<LinuxGrantCopier>(copier);
        ((IDisposable)copier).Dispose();
        Assert.IsType<LinuxGrantMapper>(platform.GrantMapper);
        Assert.IsType<LinuxEventChannels>(platform.EventChannels);
    }

    [Fact]
    public async Task A_factory_that_throws_leaves_no_connection_open()
    {
        using var xenstored = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        xenstored.Bind(new UnixDomainSocketEndPoint(In("socket")));
        xenstored.Listen(1);
        await using var platform = new LinuxXenPlatform(
            0, _ => throw new InvalidOperationException("refused"), "/dev/null", _evtchn.Path,
            new XenBusDevice(In("xenbus"), [In("socket")]), In("no-xen_netback"), null, null);

        await Assert.ThrowsAsync<InvalidOperationException>(() => platform.ConnectXenStoreAsync());
        using var server = await xenstored.AcceptAsync().WaitAsync(TimeSpan.FromSeconds(10));
        // The stream was disposed, so xenstored's side reads end of file.
        Assert.Equal(0, await server.ReceiveAsync(new byte[1]).WaitAsync(TimeSpan.FromSeconds(10)));
    }

    /// <summary>Stands for the xs_wire client being written elsewhere; the platform only hands it the stream.</summary>
    private sealed class UnusedXenStore : IXenStore
    {
        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
        public Task<string?> ReadAsync(string path, XenStoreTransaction? transaction = null, CancellationToken cancellationToken = default) => throw new NotSupportedException();
        public Task WriteAsync(string path, string value, XenStoreTransaction? transaction = null, CancellationToken cancellationToken = default) => throw new NotSupportedException();
        public Task MkdirAsync(string path, XenStoreTransaction? transaction = null, CancellationToken cancellationToken = default) => throw new NotSupportedException();
        public Task RemoveAsync(string path, XenStoreTransaction? transaction = null, CancellationToken cancellationToken = default) => throw new NotSupportedException();
        public Task<IReadOnlyList<string>?> DirectoryAsync(string path, XenStoreTransaction? transaction = null, CancellationToken cancellationToken = default) => throw new NotSupportedException();
        public Task<IReadOnlyList<string>?> GetPermissionsAsync(string path, XenStoreTransaction? transaction = null, CancellationToken cancellationToken = default) => throw new NotSupportedException();
        public Task SetPermissionsAsync(string path, IReadOnlyList<string> permissions, XenStoreTransaction? transaction = null, CancellationToken cancellationToken = default) => throw new NotSupportedException();
        public Task<IAsyncDisposable> WatchAsync(string path, string token, Action<XenStoreWatchEvent> onEvent, CancellationToken cancellationToken = default) => throw new NotSupportedException();
        public Task<XenStoreTransaction> StartTransactionAsync(CancellationToken cancellationToken = default) => throw new NotSupportedException();
        public Task<bool> EndTransactionAsync(XenStoreTransaction transaction, bool commit, CancellationToken cancellationToken = default) => throw new NotSupportedException();
    }
}
