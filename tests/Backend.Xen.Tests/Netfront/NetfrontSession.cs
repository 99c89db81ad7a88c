using Backend.Xen.Platform.Sim.Netfront;
using Backend.Xen.Platform.Sim.Toolstack;

namespace Backend.Xen.Tests.Netfront;

/// <summary>A sim root, a vif, a <see cref="MinimalNetback"/> and a connected <see cref="SimNetfront"/>.</summary>
public sealed class NetfrontSession : IAsyncDisposable
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    private NetfrontSession(SimTestRoot sim, MinimalNetback backend, SimNetfront front, RecordingConsumer consumer)
    {
        Sim = sim;
        Backend = backend;
        Front = front;
        Consumer = consumer;
    }

    public SimTestRoot Sim { get; }
    public MinimalNetback Backend { get; }
    public SimNetfront Front { get; }
    public RecordingConsumer Consumer { get; }

    public static async Task<NetfrontSession> StartAsync(Func<SimNetfrontOptions, SimNetfrontOptions>? options = null, Action<IDictionary<string, string>>? features = null)
    {
        var sim = await SimTestRoot.WithXenStoreAsync();
        try
        {
            var store = await sim.ConnectAsync();
            await new SimToolstack(store).CreateVifAsync(new SimVifSpec { GuestDomId = 9, Handle = 0, Mac = "00:16:3e:00:00:09" });
            var backend = new MinimalNetback(sim.Root, await sim.ConnectAsync(), 9, 0);
            features?.Invoke(backend.Features);
            var consumer = new RecordingConsumer();
            var o = new SimNetfrontOptions { Root = sim.Root, DomId = 9 };
            var front = await SimNetfront.StartAsync(options?.Invoke(o) ?? o, await sim.ConnectAsync(), consumer);
            await backend.InitWaitAsync();
            await backend.ConnectAsync(Timeout);
            using var cts = new CancellationTokenSource(Timeout);
            await front.WaitForConnectedAsync(cts.Token);
            return new NetfrontSession(sim, backend, front, consumer);
        }
        catch
        {
            await sim.DisposeAsync();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await Front.DisposeAsync();
        await Backend.DisposeAsync();
        await Sim.DisposeAsync();
    }
}
