using BenchmarkDotNet.Attributes;
using Backend.Xen.XenStore;
using Backend.Xen.XenStore.Server;

namespace Backend.Benchmarks;

/// <summary>
/// Requests per second against the embedded xenstore server over its Unix socket: one client with 64
/// requests in flight, and 100 clients at once with one request in flight each. Run:
/// <c>dotnet run -c Release --project tests/Backend.Benchmarks -- --filter '*XenStore*'</c>.
/// </summary>
[MemoryDiagnoser]
[SimpleJob(launchCount: 1, warmupCount: 3, iterationCount: 8)]
public class XenStoreBenchmarks
{
    private const int InFlight = 64;
    private const int PipelinedRequests = 6400;
    private const int Clients = 100;
    private const int RequestsPerClient = 64;

    private DirectoryInfo _directory = null!;
    private XenStoreServer _server = null!;
    private XenStoreClient _single = null!;
    private XenStoreClient[] _many = null!;

    [GlobalSetup]
    public async Task SetupAsync()
    {
        _directory = Directory.CreateTempSubdirectory("xnb-xsbench-");
        _server = await XenStoreServer.StartAsync(Path.Combine(_directory.FullName, "xenstored.sock"));
        _single = await XenStoreClient.ConnectAsync(_server.SocketPath);
        _many = await Task.WhenAll(Enumerable.Range(0, Clients).Select(_ => XenStoreClient.ConnectAsync(_server.SocketPath)));
        for (var i = 0; i < InFlight; i++)
            await _single.WriteAsync($"/local/domain/1/device/vif/{i}/state", "4");
    }

    [GlobalCleanup]
    public async Task CleanupAsync()
    {
        await _single.DisposeAsync();
        foreach (var client in _many)
            await client.DisposeAsync();
        await _server.DisposeAsync();
        _directory.Delete(recursive: true);
    }

    [Benchmark(OperationsPerInvoke = PipelinedRequests)]
    public Task Read_one_client_64_in_flight() => PipelinedAsync(i => _single.ReadAsync($"/local/domain/1/device/vif/{i % InFlight}/state"));

    [Benchmark(OperationsPerInvoke = PipelinedRequests)]
    public Task Write_one_client_64_in_flight() => PipelinedAsync(i => _single.WriteAsync($"/local/domain/1/device/vif/{i % InFlight}/state", "4"));

    [Benchmark(OperationsPerInvoke = Clients * RequestsPerClient)]
    public Task Read_100_clients() => ManyClientsAsync((client, c, i) => client.ReadAsync($"/local/domain/1/device/vif/{(c + i) % InFlight}/state"));

    [Benchmark(OperationsPerInvoke = Clients * RequestsPerClient)]
    public Task Write_100_clients() => ManyClientsAsync((client, c, i) => client.WriteAsync($"/local/domain/1/device/vif/{(c + i) % InFlight}/state", "4"));

    /// <summary>Keeps <see cref="InFlight"/> requests outstanding: each lane issues its next as soon as its last is answered.</summary>
    private static async Task PipelinedAsync(Func<int, Task> request)
    {
        var lanes = new Task[InFlight];
        for (var lane = 0; lane < InFlight; lane++)
        {
            var first = lane;
            lanes[lane] = Task.Run(async () =>
            {
                for (var i = first; i < PipelinedRequests; i += InFlight)
                    await request(i);
            });
        }
        await Task.WhenAll(lanes);
    }

    private async Task ManyClientsAsync(Func<XenStoreClient, int, int, Task> request)
    {
        var lanes = new Task[Clients];
        for (var c = 0; c < Clients; c++)
        {
            var client = _many[c];
            var index = c;
            lanes[c] = Task.Run(async () =>
            {
                for (var i = 0; i < RequestsPerClient; i++)
                    await request(client, index, i);
            });
        }
        await Task.WhenAll(lanes);
    }
}
