using System.Diagnostics;
using System.Globalization;
using Backend.Xen.Platform.Sim;
using Backend.Xen.Platform.Sim.Netfront;
using Backend.Xen.Platform.Sim.Toolstack;
using Backend.Xen.XenStore;

namespace Backend.Host.Bench;

/// <summary>
/// The guests of one bench guest process (<c>bench guests</c>): it plays the toolstack for them (one vif
/// each, <c>mtu</c> 65521, bridge xenbr0), starts their netfronts, and runs workloads on pairs of them:
/// guest 2i sends to (or pings) guest 2i+1. The backend under test is another process.
/// </summary>
internal sealed class BenchGuestHost : IAsyncDisposable
{
    public const int Window = 256;
    public const int VifMtu = 65521;
    private const int GuestsPerXenStoreConnection = 32;
    /// <summary>
    /// Toolstack processes creating vifs at the same time (xl creates domains in parallel), each over its
    /// own xenstore connection, each vif in its own transaction.
    /// </summary>
    private const int ConcurrentToolstacks = 4;
    private static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(120);

    private readonly SimRoot _root;
    private readonly ushort _backendDomId;
    private readonly List<BenchGuest> _guests = [];
    private readonly List<IXenStore> _stores = [];
    private IXenStore? _toolstackStore;
    private readonly List<IXenStore> _creatorStores = [];

    private BenchGuestHost(SimRoot root, ushort backendDomId)
    {
        _root = root;
        _backendDomId = backendDomId;
    }

    /// <summary>From the first vif's creation to the last guest's Connected.</summary>
    public double ConnectSeconds { get; private set; }

    /// <summary>From the first vif's creation to the last one's (the toolstack's share of <see cref="ConnectSeconds"/>).</summary>
    public double CreateSeconds { get; private set; }

    public int Guests => _guests.Count;

    public static async Task<BenchGuestHost> StartAsync(SimRoot root, string xenstoreSocket, ushort backendDomId, ushort firstDomId, int pairs, bool broadcast, CancellationToken cancellationToken)
    {
        var host = new BenchGuestHost(root, backendDomId);
        try
        {
            await host.ConnectAsync(xenstoreSocket, firstDomId, pairs, cancellationToken).ConfigureAwait(false);
            if (broadcast)
                await host.AnnounceAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await host.DisposeAsync().ConfigureAwait(false);
            throw;
        }
        return host;
    }

    private async Task ConnectAsync(string xenstoreSocket, ushort firstDomId, int pairs, CancellationToken cancellationToken)
    {
        _toolstackStore = await XenStoreClient.ConnectAsync(xenstoreSocket, cancellationToken).ConfigureAwait(false);
        for (var i = 0; i < 2 * pairs; i++)
        {
            if (i % GuestsPerXenStoreConnection == 0)
                _stores.Add(await XenStoreClient.ConnectAsync(xenstoreSocket, cancellationToken).ConfigureAwait(false));
            _guests.Add(new BenchGuest((ushort)(firstDomId + i)));
        }
        for (var i = 0; i < _guests.Count; i += 2)
        {
            _guests[i].Peer = _guests[i + 1];
            _guests[i + 1].Peer = _guests[i];
        }
        var toolstacks = new List<SimToolstack>(ConcurrentToolstacks);
        for (var i = 0; i < Math.Min(ConcurrentToolstacks, _guests.Count); i++)
        {
            var store = await XenStoreClient.ConnectAsync(xenstoreSocket, cancellationToken).ConfigureAwait(false);
            _creatorStores.Add(store);
            toolstacks.Add(new SimToolstack(store));
        }
        var stopwatch = Stopwatch.StartNew();
        // Several toolstacks at once, each creating one vif after another in its own transaction: their
        // transactions only add children to the same parents (/local/domain, backend/vif), which xenstore
        // coalesces, so they do not conflict. Each guest starts as soon as its vif exists.
        var starts = new Task[_guests.Count];
        var next = -1;
        async Task CreateAsync(SimToolstack toolstack)
        {
            for (var i = Interlocked.Increment(ref next); i < _guests.Count; i = Interlocked.Increment(ref next))
            {
                var guest = _guests[i];
                await toolstack.CreateVifAsync(new SimVifSpec
                {
                    GuestDomId = guest.DomId,
                    Handle = 0,
                    Mac = guest.MacText,
                    BackendDomId = _backendDomId,
                    Mtu = VifMtu,
                }, cancellationToken).ConfigureAwait(false);
                starts[i] = StartNetfrontAsync(guest, _stores[i / GuestsPerXenStoreConnection], cancellationToken);
            }
        }
        await Task.WhenAll(toolstacks.Select(CreateAsync)).ConfigureAwait(false);
        CreateSeconds = stopwatch.Elapsed.TotalSeconds;
        await Task.WhenAll(starts).ConfigureAwait(false);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(ConnectTimeout);
        try
        {
            await Task.WhenAll(_guests.Select(g => g.Netfront!.WaitForConnectedAsync(timeout.Token))).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            var stuck = _guests.Where(g => !g.Netfront!.IsConnected).Take(5).Select(g => $"{g.DomId}: {g.Netfront!.State}/{g.Netfront.BackendState} {g.Netfront.Failure}");
            throw new TimeoutException($"{_guests.Count(g => !g.Netfront!.IsConnected)} guests not connected after {ConnectTimeout}: {string.Join("; ", stuck)}");
        }
        ConnectSeconds = stopwatch.Elapsed.TotalSeconds;
        foreach (var guest in _guests)
        {
            var gso = await _stores[0].ReadAsync(guest.Netfront!.BackendPath + "/feature-gso-tcpv4", null, cancellationToken).ConfigureAwait(false);
            guest.BackendGso = gso == "1";
        }
    }

    private async Task StartNetfrontAsync(BenchGuest guest, IXenStore store, CancellationToken cancellationToken)
    {
        guest.Netfront = await SimNetfront.StartAsync(
            new SimNetfrontOptions { Root = _root, DomId = guest.DomId, FeatureSg = true, FeatureGsoTcpV4 = true },
            store, guest, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Each guest broadcasts once so that the bridge learns its MAC before traffic starts (SIMXEN "Frames").</summary>
    private async Task AnnounceAsync(CancellationToken cancellationToken)
    {
        var frame = new byte[BenchFrame.MinLength];
        foreach (var guest in _guests)
        {
            BenchFrame.Build(frame, [0xff, 0xff, 0xff, 0xff, 0xff, 0xff], guest.Mac, tcp: false);
            BenchFrame.Stamp(frame, BenchFrame.PlainHeaderOffset, BenchFrame.Broadcast, 0, 0);
            await guest.Netfront!.SendAsync(frame, default, cancellationToken).ConfigureAwait(false);
        }
        var deadline = Stopwatch.StartNew();
        while (_guests.Any(g => g.Broadcasts < 1))
        {
            if (deadline.Elapsed > TimeSpan.FromSeconds(20))
                throw new TimeoutException($"{_guests.Count(g => g.Broadcasts < 1)} guests saw no broadcast within 20 s");
            await Task.Delay(10, cancellationToken).ConfigureAwait(false);
        }
        // Let the flood finish, so that no broadcast lands in a measured interval.
        await Task.Delay(200, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Runs one workload for about <paramref name="seconds"/> and reports it.</summary>
    public async Task<WorkloadResult> RunAsync(string workload, int size, double seconds, CancellationToken cancellationToken)
    {
        var gso = size == BenchFrame.GsoFrameLength && _guests.All(g => g.BackendGso);
        var window = workload == "windowed" ? Window : 0;
        foreach (var guest in _guests)
            guest.Prepare(size, gso, window);
        var senders = _guests.Where((_, i) => i % 2 == 0).ToArray();
        var receivers = _guests.Where((_, i) => i % 2 == 1).ToArray();
        var countersBefore = _guests.Select(g => g.Netfront!.Counters).ToArray();
        var result = workload switch
        {
            "windowed" or "unpaced" => await StreamAsync(workload, size, gso, seconds, senders, receivers, cancellationToken).ConfigureAwait(false),
            "pingpong" => await PingPongAsync(size, gso, seconds, senders, StallStatusUrl(), cancellationToken).ConfigureAwait(false),
            _ => throw new ArgumentException($"unknown workload \"{workload}\" (windowed, unpaced, pingpong)", nameof(workload)),
        };
        long txErrors = 0, rxErrors = 0;
        for (var i = 0; i < _guests.Count; i++)
        {
            var after = _guests[i].Netfront!.Counters;
            txErrors += after.TxErrors - countersBefore[i].TxErrors;
            rxErrors += after.RxErrors - countersBefore[i].RxErrors;
        }
        return result with { TxErrors = txErrors, RxErrors = rxErrors };
    }

    private async Task<WorkloadResult> StreamAsync(string workload, int size, bool gso, double seconds, BenchGuest[] senders, BenchGuest[] receivers, CancellationToken cancellationToken)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var streams = senders.Select(s => s.StreamAsync(stop.Token)).ToArray();
        await Task.Delay(TimeSpan.FromSeconds(Math.Min(0.5, seconds / 4)), cancellationToken).ConfigureAwait(false);
        var r0 = receivers.Sum(r => r.Received);
        var s0 = senders.Sum(s => s.Sent);
        var t0 = Stopwatch.GetTimestamp();
        await Task.Delay(TimeSpan.FromSeconds(seconds), cancellationToken).ConfigureAwait(false);
        var r1 = receivers.Sum(r => r.Received);
        var s1 = senders.Sum(s => s.Sent);
        var elapsed = Stopwatch.GetElapsedTime(t0).TotalSeconds;
        await stop.CancelAsync().ConfigureAwait(false);
        await Task.WhenAll(streams).ConfigureAwait(false);
        // Whatever is still in the backend arrives now, or never (dropped).
        var last = -1L;
        var quiet = Stopwatch.StartNew();
        var settle = Stopwatch.StartNew();
        while (settle.Elapsed < TimeSpan.FromSeconds(5))
        {
            var received = receivers.Sum(r => r.Received);
            if (received == senders.Sum(s => s.Sent))
                break;
            if (received != last)
            {
                last = received;
                quiet.Restart();
            }
            else if (quiet.Elapsed > TimeSpan.FromMilliseconds(300))
            {
                break;
            }
            await Task.Delay(5, cancellationToken).ConfigureAwait(false);
        }
        var missing = senders.Sum(s => s.Sent) - receivers.Sum(r => r.Received);
        var frames = r1 - r0;
        var fps = frames / elapsed;
        return new WorkloadResult
        {
            Workload = workload,
            Pairs = senders.Length,
            Size = size,
            Gso = gso,
            Seconds = elapsed,
            Frames = frames,
            FramesTotal = receivers.Sum(r => r.Received),
            FramesPerSecond = fps,
            Gbps = fps * size * 8 / 1e9,
            SentPerSecond = workload == "unpaced" ? (s1 - s0) / elapsed : null,
            Drops = workload == "unpaced" ? missing : null,
            Lost = workload == "windowed" ? missing : null,
            OutOfOrder = receivers.Sum(r => r.OutOfOrder),
        };
    }

    /// <summary>
    /// On SIMXEN a ping-pong never needs a retry; when one does (docs/performance/stalls), both guests'
    /// rings and event-channel counters say which side waits. Appended to the file that
    /// XNBBENCH_STALL_LOG names, if any (the guest host's stderr is not shown by the bench).
    /// </summary>
    /// <summary>The daemon's /status, when a stall log is asked for and the daemon said where it listens.</summary>
    private string? StallStatusUrl()
    {
        if (Environment.GetEnvironmentVariable("XNBBENCH_STALL_LOG") is not { Length: > 0 })
            return null;
        var file = _root.DomainFile(_backendDomId, "admin-url");
        return File.Exists(file) ? File.ReadAllText(file).Trim() + "/status" : null;
    }

    private static void LogStall(BenchGuest pinger, string? statusUrl)
    {
        if (Environment.GetEnvironmentVariable("XNBBENCH_STALL_LOG") is not { Length: > 0 } path)
            return;
        var line = $"{DateTime.UtcNow:O} pinger {pinger.DomId}: {pinger.Netfront?.DescribeRings()} | peer {pinger.Peer?.DomId}: {pinger.Peer?.Netfront?.DescribeRings()}\n";
        File.AppendAllText(path, line);
        if (statusUrl is null)
            return;
        try
        {
            // The daemon's side of the same two vifs (ring indices, events, disabled), as /status has them.
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
            File.AppendAllText(path, http.GetStringAsync(statusUrl).GetAwaiter().GetResult() + "\n");
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            File.AppendAllText(path, $"/status: {e.Message}\n");
        }
    }

    private static async Task<WorkloadResult> PingPongAsync(int size, bool gso, double seconds, BenchGuest[] pingers, string? statusUrl, CancellationToken cancellationToken)
    {
        // The first round trips (caches, the JIT) are left out of the percentiles, except in a run too
        // short to be a measurement (the smoke run), which must still report some.
        var warmup = seconds < 1 ? 0 : 20;
        foreach (var p in pingers)
            p.StartPinging(warmup);
        var seen = pingers.Select(p => p.Pongs).ToArray();
        var stalled = new long[pingers.Length];
        long retries = 0;
        var run = Stopwatch.StartNew();
        while (run.Elapsed.TotalSeconds < seconds)
        {
            await Task.Delay(100, cancellationToken).ConfigureAwait(false);
            for (var i = 0; i < pingers.Length; i++)
            {
                var pongs = pingers[i].Pongs;
                if (pongs != seen[i])
                {
                    seen[i] = pongs;
                    stalled[i] = 0;
                }
                else if (++stalled[i] >= 10)
                {
                    // A second without progress: the ping or its pong is gone; send a fresh one.
                    stalled[i] = 0;
                    retries++;
                    LogStall(pingers[i], statusUrl);
                    pingers[i].SendPing();
                }
            }
        }
        foreach (var p in pingers)
            p.StopPinging();
        var elapsed = run.Elapsed.TotalSeconds;
        await Task.Delay(100, cancellationToken).ConfigureAwait(false);
        var samples = new List<long>();
        foreach (var p in pingers)
        {
            foreach (var t in p.RoundTrips)
                samples.Add(t);
        }
        samples.Sort();
        var toUs = 1e6 / Stopwatch.Frequency;
        var roundTrips = pingers.Sum(p => p.Pongs);
        return new WorkloadResult
        {
            Workload = "pingpong",
            Pairs = pingers.Length,
            Size = size,
            Gso = gso,
            Seconds = elapsed,
            Frames = 2 * roundTrips,
            FramesPerSecond = 2 * roundTrips / elapsed,
            Gbps = 2 * roundTrips * (double)size * 8 / elapsed / 1e9,
            RoundTrips = roundTrips,
            Retries = retries,
            P50Us = samples.Count == 0 ? null : samples[(int)(samples.Count * 0.50)] * toUs,
            P99Us = samples.Count == 0 ? null : samples[Math.Min(samples.Count - 1, (int)(samples.Count * 0.99))] * toUs,
        };
    }

    /// <summary>Lets go of the guests as a toolstack destroying them would: netfronts stop, vifs and domain files go.</summary>
    public async ValueTask DisposeAsync()
    {
        foreach (var guest in _guests)
        {
            if (guest.Netfront is { } netfront)
                await netfront.DisposeAsync().ConfigureAwait(false);
        }
        if (_toolstackStore is not null)
        {
            var toolstack = new SimToolstack(_toolstackStore);
            foreach (var guest in _guests)
            {
                try
                {
                    await toolstack.DestroyGuestAsync(_root, guest.DomId, _backendDomId).ConfigureAwait(false);
                }
                catch (Exception e) when (e is XenStoreConnectionException or XenStoreErrorException or IOException)
                {
                    // The bench is tearing down the whole root anyway.
                }
            }
            await _toolstackStore.DisposeAsync().ConfigureAwait(false);
        }
        foreach (var store in _creatorStores)
            await store.DisposeAsync().ConfigureAwait(false);
        foreach (var store in _stores)
            await store.DisposeAsync().ConfigureAwait(false);
    }

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{_guests.Count} guests");
}
