using System.Diagnostics;
using Backend.Xen.XenStore;
using Backend.Xen.XenStore.Server;

namespace Backend.Xen.Tests.XenStore;

public sealed class XenStoreServerLifecycleTests : IDisposable
{
    private readonly DirectoryInfo _directory = Directory.CreateTempSubdirectory("xnb-xsl-");

    private string SocketPath => Path.Combine(_directory.FullName, "xenstored.sock");

    public void Dispose() => _directory.Delete(recursive: true);

    [SkippableFact]
    public async Task Stale_socket_nobody_answers_on_is_replaced()
    {
        // .NET unlinks a socket it bound when it closes it; a crashed xenstored leaves its file behind, as this does.
        Prerequisite.RequireFile("/usr/bin/python3", "python3");
        using (var python = Process.Start("/usr/bin/python3", ["-c", "import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])", SocketPath])!)
            await python.WaitForExitAsync();
        Assert.True(File.Exists(SocketPath), "the stale socket file was not left behind");

        await using var server = await XenStoreServer.StartAsync(SocketPath);
        await using var client = await XenStoreClient.ConnectAsync(SocketPath);

        Assert.Equal("/local/domain/0", await client.GetDomainPathAsync(0));
    }

    [Fact]
    public async Task Path_where_a_server_answers_is_refused()
    {
        await using var first = await XenStoreServer.StartAsync(SocketPath);

        var error = await Assert.ThrowsAsync<IOException>(() => XenStoreServer.StartAsync(SocketPath));

        Assert.Contains("already answers", error.Message);
        await using var client = await XenStoreClient.ConnectAsync(SocketPath);
        Assert.Null(await client.ReadAsync("/nothing"));
    }

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task Socket_is_private_to_its_user_and_removed_on_dispose()
    {
        var server = await XenStoreServer.StartAsync(SocketPath);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(SocketPath));

        await server.DisposeAsync();

        Assert.False(File.Exists(SocketPath));
    }

    [Fact]
    public async Task Concurrent_transactions_from_many_clients_lose_no_increment()
    {
        await using var server = await XenStoreServer.StartAsync(SocketPath);
        var clients = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => XenStoreClient.ConnectAsync(SocketPath)));
        await clients[0].WriteAsync("/counter", "0");

        await Task.WhenAll(clients.Select(client => Task.Run(async () =>
        {
            for (var i = 0; i < 25; i++)
            {
                await client.RunTransactionAsync(async transaction =>
                {
                    var n = await client.ReadIntAsync("/counter", transaction) ?? throw new InvalidOperationException("/counter vanished");
                    await client.WriteAsync("/counter", (n + 1).ToString(), transaction);
                }, maxAttempts: 1000);
            }
        })));

        Assert.Equal(200, await clients[0].ReadIntAsync("/counter"));
        foreach (var client in clients)
            await client.DisposeAsync();
        Assert.Equal(0, server.Statistics.ConnectionFaults);
    }

    [Fact]
    public void Options_name_the_setting_they_reject()
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() =>
            XenStoreServer.StartAsync(SocketPath, new XenStoreServerOptions { MaxWatchesPerConnection = 0 }).GetAwaiter().GetResult());
        Assert.Equal(nameof(XenStoreServerOptions.MaxWatchesPerConnection), error.ParamName);
    }
}
