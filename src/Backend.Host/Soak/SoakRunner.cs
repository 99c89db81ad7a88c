using System.Diagnostics;
using System.Globalization;
using Backend.Host.Admin;
using Backend.Host.Bench;
using Backend.Xen.Platform.Sim;
using Backend.Xen.Platform.Sim.Netfront;
using Backend.Xen.Platform.Sim.Toolstack;
using Backend.Xen.XenStore;
using Backend.Xen.XenStore.Server;

namespace Backend.Host.Soak;

/// <summary>
/// One soak run. A fresh sim root with xenstore served from this process (it outlives every daemon
/// restart, as xenstored does on Xen), the daemon as a process of its own, <see cref="SoakOptions.Guests"/>
/// well-behaved guests here exchanging checked streams in pairs (one bridge per pair) and pinging each
/// other, and the faults of the seed's schedule run one after another while the streams go on. At the
/// end: traffic stops and drains, every check is made, the guests go, and the daemon's memory and file
/// descriptors are compared with what it had before any guest came.
/// </summary>
internal sealed class SoakRunner(SoakOptions options, TextWriter progress)
{
    private const ushort FirstVictimDomId = 200;
    private const ushort FirstHostileDomId = 300;
    private const ushort FirstProbeDomId = 1000;
    private const string VictimBridge = "soakvictim";
    private const string HostileBridge = "soakhostile";
    private const int MinimumResumeFrames = 20;
    private static readonly TimeSpan StepTimeout = TimeSpan.FromSeconds(20);
    private static readonly TimeSpan PingEvery = TimeSpan.FromMilliseconds(5);
    /// <summary>A round trip counts as "during a neighbour's restart" when its ping left this soon after the fault was injected.</summary>
    private static readonly TimeSpan NeighbourRestartWindow = TimeSpan.FromMilliseconds(30);

    private readonly List<SoakGuest> _guests = [];
    private readonly List<(long At, int Guest)> _restarts = [];
    private readonly List<double> _restartMs = [];
    private readonly Stopwatch _clock = new();
    private readonly List<string> _ringFaults = [];
    private SimRoot _root = null!;
    private string _socket = "";
    private XenStoreClient _toolstackStore = null!;
    private SimToolstack _toolstack = null!;
    private readonly List<XenStoreClient> _guestStores = [];
    private SoakDaemon? _daemon;
    private int _incarnation;
    private bool _daemonExpectedDown;
    private SoakReport _report = null!;
    private Dictionary<string, int> _baselineFds = [];
    private ushort _nextVictim = FirstVictimDomId;
    private ushort _nextHostile = FirstHostileDomId;
    private ushort _nextProbe = FirstProbeDomId;
    private XenStoreServer? _xenstore;

    public async Task<SoakReport> RunAsync(CancellationToken cancellationToken)
    {
        var schedule = SoakSchedule.Draw(options);
        _report = new SoakReport
        {
            Seed = options.Seed,
            Seconds = options.Seconds,
            Guests = options.Guests,
            Rate = options.Rate,
            Window = options.Window,
            StartedUtc = DateTime.UtcNow,
            Schedule = schedule.Select(f => f.ToString()).ToList(),
        };
        progress.WriteLine($"soak: seed {options.Seed} (--seed {options.Seed} replays this schedule), {options.Seconds:F0} s of faults, {options.Guests} guests");
        foreach (var f in schedule)
            progress.WriteLine("  " + f);
        var wall = Stopwatch.StartNew();
        var rootPath = string.Create(CultureInfo.InvariantCulture, $"/dev/shm/xnb-soak-{Environment.ProcessId}");
        if (Directory.Exists(rootPath))
            Directory.Delete(rootPath, recursive: true);
        _root = new SimRoot(rootPath);
        _socket = Path.Combine(_root.Path, "xenstored.sock");
        try
        {
            await using var xenstore = await XenStoreServer.StartAsync(_socket, new XenStoreServerOptions(), cancellationToken).ConfigureAwait(false);
            _xenstore = xenstore;
            // Every client of the soak's connects again when xenstore drops it (the xenstore-restarted fault),
            // as the daemon's does.
            _toolstackStore = await XenStoreClient.ConnectAsync(_socket, reconnect: true, cancellationToken).ConfigureAwait(false);
            _toolstack = new SimToolstack(_toolstackStore);
            try
            {
                await RunWithXenStoreAsync(schedule, cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                foreach (var g in _guests)
                {
                    if (g.Netfront is { } n)
                        await n.DisposeAsync().ConfigureAwait(false);
                }
                foreach (var s in _guestStores)
                    await s.DisposeAsync().ConfigureAwait(false);
                await _toolstackStore.DisposeAsync().ConfigureAwait(false);
                if (_daemon is not null)
                    await _daemon.DisposeAsync().ConfigureAwait(false);
            }
        }
        finally
        {
            try
            {
                Directory.Delete(rootPath, recursive: true);
            }
            catch (IOException)
            {
            }
        }
        _report.WallSeconds = wall.Elapsed.TotalSeconds;
        return _report;
    }

    private async Task RunWithXenStoreAsync(IReadOnlyList<SoakFault> schedule, CancellationToken cancellationToken)
    {
        await StartDaemonAsync(cancellationToken).ConfigureAwait(false);
        // The daemon with no guest, settled: what it must come back to once the guests are gone.
        await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken).ConfigureAwait(false);
        var baselineResources = await _daemon!.MemoryAsync(cancellationToken).ConfigureAwait(false);
        _report.Baseline = baselineResources;
        _baselineFds = _daemon.FdTargets();
        progress.WriteLine($"daemon baseline: VmRSS {baselineResources.RssKiB} KiB (anon {baselineResources.RssAnonKiB}, file {baselineResources.RssFileKiB}), {baselineResources.Fds} fds");

        await StartGuestsAsync(cancellationToken).ConfigureAwait(false);
        using var stopTraffic = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var traffic = _guests.Select(g => g.RunAsync(options.Rate, options.Window, PingEvery, stopTraffic.Token)).ToList();
        using var stopWatching = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var watcher = WatchAsync(stopWatching.Token);
        _clock.Start();
        try
        {
            // Every fault of the schedule runs, late ones back to back: a replay runs the same faults in the
            // same order however slow the machine is (the run is then longer than --seconds).
            foreach (var fault in schedule)
            {
                var wait = TimeSpan.FromSeconds(fault.At) - _clock.Elapsed;
                if (wait > TimeSpan.Zero)
                    await Task.Delay(wait, cancellationToken).ConfigureAwait(false);
                await RunFaultAsync(fault, cancellationToken).ConfigureAwait(false);
                if (_daemon!.HasExited && !_daemonExpectedDown)
                    break; // counted by the watcher; nothing more to learn from this run
            }
            var rest = TimeSpan.FromSeconds(options.Seconds) - _clock.Elapsed;
            if (rest > TimeSpan.Zero && !_daemon!.HasExited)
                await Task.Delay(rest, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            await stopTraffic.CancelAsync().ConfigureAwait(false);
            await Task.WhenAll(traffic).ConfigureAwait(false);
        }
        await DrainAsync(cancellationToken).ConfigureAwait(false);
        await stopWatching.CancelAsync().ConfigureAwait(false);
        await watcher.ConfigureAwait(false);
        await CheckAsync(cancellationToken).ConfigureAwait(false);
    }

    private async Task StartDaemonAsync(CancellationToken cancellationToken)
    {
        _incarnation++;
        _daemon = await SoakDaemon.StartAsync(_root.Path, _incarnation, cancellationToken).ConfigureAwait(false);
        _report.DaemonIncarnations = _incarnation;
        progress.WriteLine($"{Now}: daemon #{_incarnation} READY (pid {_daemon.Pid}, {_daemon.AdminUrl})");
    }

    private string Now => string.Create(CultureInfo.InvariantCulture, $"{_clock.Elapsed.TotalSeconds,7:F1} s");

    private async Task StartGuestsAsync(CancellationToken cancellationToken)
    {
        for (var i = 0; i < options.Guests; i++)
        {
            if (i % 8 == 0)
                _guestStores.Add(await XenStoreClient.ConnectAsync(_socket, reconnect: true, cancellationToken).ConfigureAwait(false));
            var g = new SoakGuest((ushort)(i + 1), options.MaxFrame);
            g.Check = new SoakStreamCheck(i % 2 == 0 ? (ushort)(i + 2) : (ushort)i);
            _guests.Add(g);
        }
        for (var i = 0; i < _guests.Count; i += 2)
        {
            _guests[i].Peer = _guests[i + 1];
            _guests[i + 1].Peer = _guests[i];
        }
        await Task.WhenAll(_guests.Select((g, i) => CreateGuestAsync(g, i, cancellationToken))).ConfigureAwait(false);
        progress.WriteLine($"{options.Guests} guests connected and announced");
    }

    /// <summary>The toolstack creates guest <paramref name="index"/>'s vif, its netfront connects and announces itself.</summary>
    private async Task CreateGuestAsync(SoakGuest g, int index, CancellationToken cancellationToken)
    {
        await _toolstack.CreateVifAsync(new SimVifSpec
        {
            GuestDomId = g.DomId,
            Handle = 0,
            Mac = g.MacText,
            Bridge = string.Create(CultureInfo.InvariantCulture, $"soak{index / 2}"),
            Mtu = 9000,
        }, cancellationToken).ConfigureAwait(false);
        var netfront = await SimNetfront.StartAsync(new SimNetfrontOptions { Root = _root, DomId = g.DomId, FeatureSg = true }, _guestStores[index / 8], g, cancellationToken).ConfigureAwait(false);
        g.Netfront = netfront;
        await netfront.WaitForConnectedAsync(cancellationToken).WaitAsync(StepTimeout, cancellationToken).ConfigureAwait(false);
        await AnnounceAsync(g, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Broadcasts until the peer has seen one (the first may find the peer not connected yet).</summary>
    private async Task AnnounceAsync(SoakGuest g, CancellationToken cancellationToken)
    {
        var seen = g.Peer.Announces;
        var deadline = Stopwatch.StartNew();
        while (g.Peer.Announces == seen)
        {
            if (deadline.Elapsed > StepTimeout)
                throw new TimeoutException($"guest {g.DomId}'s announcement never reached guest {g.Peer.DomId}");
            g.Announce();
            await Task.Delay(50, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Every 100 ms: is the daemon still there when it should be, has any guest seen a broken ring.</summary>
    private async Task WatchAsync(CancellationToken cancellationToken)
    {
        var seenExit = 0;
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(100, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                break;
            }
            var daemon = _daemon!;
            if (daemon.HasExited && !Volatile.Read(ref _daemonExpectedDown) && seenExit != _incarnation)
            {
                seenExit = _incarnation;
                _report.DaemonCrashes++;
                _report.DaemonLogs.Add($"daemon #{_incarnation} exited by itself at {Now}:\n{daemon.Log}");
                progress.WriteLine($"{Now}: DAEMON CRASHED (#{_incarnation})\n{daemon.Log}");
            }
            foreach (var g in _guests)
            {
                if (g.Netfront?.RingBroken is { } broken)
                {
                    var text = $"guest {g.DomId}: {broken}";
                    lock (_ringFaults)
                    {
                        if (!_ringFaults.Contains(text))
                            _ringFaults.Add(text);
                    }
                }
            }
        }
    }

    private async Task RunFaultAsync(SoakFault fault, CancellationToken cancellationToken)
    {
        var started = _clock.Elapsed.TotalSeconds;
        var watch = Stopwatch.StartNew();
        string outcome;
        double? restartMs = null;
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(90));
            switch (fault.Kind)
            {
                case SoakFault.RingFault:
                    restartMs = await RingFaultAsync(_guests[fault.Guest], fault.Detail == "tx", timeout.Token).ConfigureAwait(false);
                    break;
                case SoakFault.VifReadded:
                    await ReaddVifAsync(_guests[fault.Guest], timeout.Token).ConfigureAwait(false);
                    break;
                case SoakFault.Reconnect:
                    await ReconnectAsync(_guests[fault.Guest], timeout.Token).ConfigureAwait(false);
                    break;
                case SoakFault.GuestKilled:
                    await KillGuestProcessAsync(timeout.Token).ConfigureAwait(false);
                    break;
                case SoakFault.Hostile:
                    await HostileAsync(fault.Detail!, timeout.Token).ConfigureAwait(false);
                    break;
                case SoakFault.DaemonSigterm:
                    await RestartDaemonAsync(kill: false, timeout.Token).ConfigureAwait(false);
                    break;
                case SoakFault.DaemonSigkill:
                    await RestartDaemonAsync(kill: true, timeout.Token).ConfigureAwait(false);
                    break;
                case SoakFault.XenStoreRestarted:
                    await RestartXenStoreAsync(timeout.Token).ConfigureAwait(false);
                    break;
                default:
                    throw new InvalidOperationException($"unknown fault {fault.Kind}");
            }
            outcome = "ok";
        }
        catch (Exception e) when (e is SoakFaultFailedException or TimeoutException or OperationCanceledException or InvalidOperationException or HttpRequestException or IOException or XenStoreErrorException or XenStoreConnectionException)
        {
            if (cancellationToken.IsCancellationRequested)
                throw;
            outcome = "FAILED: " + e.Message + await DescribeAsync(fault).ConfigureAwait(false);
        }
        var result = new SoakFaultResult(fault.ToString().Trim(), Math.Round(started, 2), Math.Round(watch.Elapsed.TotalMilliseconds, 1), outcome, restartMs);
        _report.Faults.Add(result);
        progress.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{Now}: {result.Fault} -> {outcome} ({result.Milliseconds:F0} ms{(restartMs is { } r ? $", tree restart {r:F2} ms" : "")})"));
    }

    /// <summary>For a failed fault: the faulted guest's vif as the daemon and the netfront see it, and the daemon's last log lines.</summary>
    private async Task<string> DescribeAsync(SoakFault fault)
    {
        var text = "";
        if (fault.Guest >= 0)
        {
            var g = _guests[fault.Guest];
            var n = g.Netfront;
            text += $" [netfront {g.DomId}: {n?.State}/{n?.BackendState}{(n?.Failure is { } f ? ", " + f : "")}";
            try
            {
                using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                var v = await VifAsync(g.DomId, cts.Token).ConfigureAwait(false);
                text += v is null ? "; the daemon lists no such vif]" : $"; daemon: {v.State}, frontend {v.FrontendState}, disabled {v.Disabled}, fault {v.Fault}]";
            }
            catch (Exception e) when (e is HttpRequestException or OperationCanceledException)
            {
                text += "; /status unanswered]";
            }
        }
        _report.DaemonLogs.Add($"daemon #{_incarnation} log after the failed fault \"{fault.ToString().Trim()}\":\n{_daemon!.Log}");
        return text;
    }

    /// <summary>
    /// Marks the streams to and from <paramref name="faulted"/> (all streams when null) as hit by a fault
    /// of <paramref name="faultClass"/> from now, less a window of frames already in flight; the returned
    /// action ends the excused range at what each sender has sent by then.
    /// </summary>
    private Action Excuse(IEnumerable<SoakGuest> faulted, string faultClass)
    {
        var senders = faulted.SelectMany(g => new[] { g, g.Peer }).Distinct().ToList();
        var from = senders.Select(s => s.Next - options.Window).ToList();
        return () =>
        {
            for (var i = 0; i < senders.Count; i++)
                senders[i].Peer.Check.Excuse(from[i], senders[i].Next, faultClass);
        };
    }

    /// <summary>Waits until every stream to and from <paramref name="guests"/> has delivered fresh frames again.</summary>
    private async Task WaitResumedAsync(IEnumerable<SoakGuest> guests, CancellationToken cancellationToken)
    {
        var receivers = guests.SelectMany(g => new[] { g, g.Peer }).Distinct().ToList();
        var before = receivers.Select(r => r.Check.Received).ToList();
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            var stalled = receivers.Where((r, i) => r.Check.Received < before[i] + MinimumResumeFrames).ToList();
            if (stalled.Count == 0)
                return;
            if (deadline.Elapsed > StepTimeout)
                throw new SoakFaultFailedException($"the stream to guest(s) {string.Join(", ", stalled.Select(r => r.DomId))} did not resume within {StepTimeout.TotalSeconds:F0} s; "
                    // Both ends of each stalled stream as the guests see them: which ring waits for which side.
                    + string.Join("; ", stalled.SelectMany(r => new[] { r, r.Peer }).Select(g => g.Netfront?.DescribeRings() ?? $"guest {g.DomId}: no netfront")));
            await Task.Delay(10, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task<VifStatusDocument?> VifAsync(ushort domid, CancellationToken cancellationToken) =>
        (await _daemon!.StatusAsync(cancellationToken).ConfigureAwait(false)).Vifs.FirstOrDefault(v => v.DomId == domid);

    private async Task<VifStatusDocument> WaitVifAsync(ushort domid, Func<VifStatusDocument, bool> done, string what, CancellationToken cancellationToken)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            if (await VifAsync(domid, cancellationToken).ConfigureAwait(false) is { } v && done(v))
                return v;
            if (deadline.Elapsed > StepTimeout)
                throw new SoakFaultFailedException($"vif {domid}.0 never {what} within {StepTimeout.TotalSeconds:F0} s");
            await Task.Delay(20, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task WaitVifGoneAsync(ushort domid, CancellationToken cancellationToken)
    {
        var deadline = Stopwatch.StartNew();
        while (await VifAsync(domid, cancellationToken).ConfigureAwait(false) is not null)
        {
            if (deadline.Elapsed > StepTimeout)
                throw new SoakFaultFailedException($"the daemon still lists vif {domid}.0 {StepTimeout.TotalSeconds:F0} s after the toolstack removed it");
            await Task.Delay(20, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>A ring actor throws: its vif's tree restarts alone, without the guest reconnecting. Returns the restart's time in ms.</summary>
    private async Task<double> RingFaultAsync(SoakGuest g, bool tx, CancellationToken cancellationToken)
    {
        var before = await WaitVifAsync(g.DomId, v => v.State == "Connected", "was Connected", cancellationToken).ConfigureAwait(false);
        var end = Excuse([g], "tree-restart");
        lock (_restarts)
            _restarts.Add((Stopwatch.GetTimestamp(), _guests.IndexOf(g)));
        await _daemon!.InjectRingFaultAsync(g.DomId, tx, cancellationToken).ConfigureAwait(false);
        var after = await WaitVifAsync(g.DomId, v => v.Restarts > before.Restarts && v.LastRestartMicroseconds != before.LastRestartMicroseconds,
            "restarted its data path", cancellationToken).ConfigureAwait(false);
        if (after.Restarts != before.Restarts + 1)
            throw new SoakFaultFailedException($"vif {g.DomId}.0 restarted {after.Restarts - before.Restarts} times for one fault");
        if (g.Netfront?.IsConnected != true)
            throw new SoakFaultFailedException($"guest {g.DomId} is no longer Connected after its tree restarted");
        await WaitResumedAsync([g], cancellationToken).ConfigureAwait(false);
        end();
        var ms = after.LastRestartMicroseconds / 1000.0;
        _restartMs.Add(ms);
        return ms;
    }

    /// <summary>The toolstack removes the vif, the guest lets go; then it adds it again and the guest connects afresh.</summary>
    private async Task ReaddVifAsync(SoakGuest g, CancellationToken cancellationToken)
    {
        var end = Excuse([g], "vif-removed");
        await _toolstack.RemoveVifAsync(g.DomId, 0, cancellationToken: cancellationToken).ConfigureAwait(false);
        var old = g.Netfront!;
        var deadline = Stopwatch.StartNew();
        while (old.IsConnected && deadline.Elapsed < StepTimeout)
            await Task.Delay(10, cancellationToken).ConfigureAwait(false);
        await WaitVifGoneAsync(g.DomId, cancellationToken).ConfigureAwait(false);
        g.Netfront = null;
        await old.DisposeAsync().ConfigureAwait(false);
        await CreateGuestAsync(g, _guests.IndexOf(g), cancellationToken).ConfigureAwait(false);
        await WaitResumedAsync([g], cancellationToken).ConfigureAwait(false);
        end();
    }

    private async Task ReconnectAsync(SoakGuest g, CancellationToken cancellationToken)
    {
        var end = Excuse([g], "reconnect");
        await g.Netfront!.ReconnectAsync(cancellationToken).WaitAsync(StepTimeout, cancellationToken).ConfigureAwait(false);
        await AnnounceAsync(g, cancellationToken).ConfigureAwait(false);
        await WaitResumedAsync([g], cancellationToken).ConfigureAwait(false);
        end();
    }

    /// <summary>
    /// Xenstore restarts under everyone: the server closes every connection (the daemon's, the toolstack's,
    /// the guests') and takes new ones at once with its tree as it was. Every client connects again and sets
    /// its watches again. The data path does not go through xenstore, so nothing is excused: every vif stays
    /// Connected without a tree restart, every stream goes on, and the daemon's watches work again (a probe
    /// vif the toolstack adds afterwards is served, and forgotten once removed).
    /// </summary>
    private async Task RestartXenStoreAsync(CancellationToken cancellationToken)
    {
        var restarts = (await _daemon!.StatusAsync(cancellationToken).ConfigureAwait(false)).Vifs
            .Where(v => _guests.Any(g => g.DomId == v.DomId)).ToDictionary(v => v.DomId, v => v.Restarts);
        // Each of the soak's own clients by its reconnect count, not the server's accept count: a connection
        // still closing (a hostile frontend's, just disposed) is dropped too and never comes back. The
        // daemon's coming back is what the probe below shows.
        var clients = _guestStores.Append(_toolstackStore).Select(c => (Client: c, Before: c.Reconnects)).ToList();
        var dropped = _xenstore!.DropEveryConnection();
        // At least the daemon's, the toolstack's and the guests' stores: otherwise this fault tested nothing.
        if (dropped < 1 + clients.Count)
            throw new SoakFaultFailedException($"xenstore closed only {dropped} connection(s)");
        var deadline = Stopwatch.StartNew();
        while (clients.Count(c => c.Client.Reconnects == c.Before) is var waiting && waiting > 0)
        {
            if (deadline.Elapsed > StepTimeout)
                throw new SoakFaultFailedException($"{waiting} of the soak's {clients.Count} xenstore clients did not connect again within {StepTimeout.TotalSeconds:F0} s");
            await Task.Delay(10, cancellationToken).ConfigureAwait(false);
        }
        var probe = _nextProbe++;
        await _toolstack.CreateVifAsync(new SimVifSpec { GuestDomId = probe, Handle = 0, Mac = $"00:16:3e:b0:{probe >> 8:x2}:{probe & 0xff:x2}", Bridge = HostileBridge },
            cancellationToken).ConfigureAwait(false);
        await WaitVifAsync(probe, _ => true, "appeared (a vif added after xenstore restarted)", cancellationToken).ConfigureAwait(false);
        await _toolstack.RemoveVifAsync(probe, 0, cancellationToken: cancellationToken).ConfigureAwait(false);
        await WaitVifGoneAsync(probe, cancellationToken).ConfigureAwait(false);
        await WaitResumedAsync(_guests, cancellationToken).ConfigureAwait(false);
        foreach (var g in _guests)
        {
            var v = await VifAsync(g.DomId, cancellationToken).ConfigureAwait(false)
                ?? throw new SoakFaultFailedException($"the daemon no longer lists vif {g.DomId}.0 after xenstore restarted");
            if (v.State != "Connected" || v.Restarts != restarts.GetValueOrDefault(g.DomId))
                throw new SoakFaultFailedException($"vif {g.DomId}.0 is {v.State} with {v.Restarts - restarts.GetValueOrDefault(g.DomId)} tree restart(s) after xenstore restarted");
            if (g.Netfront?.IsConnected != true)
                throw new SoakFaultFailedException($"guest {g.DomId}'s netfront is no longer Connected after xenstore restarted");
        }
    }

    /// <summary>
    /// A guest of its own process (<c>sim-guest</c>, playing its own toolstack) connects, is killed with
    /// SIGKILL, and the toolstack destroys it as it would a dead domain: the daemon must forget its vif.
    /// </summary>
    private async Task KillGuestProcessAsync(CancellationToken cancellationToken)
    {
        var domid = _nextVictim++;
        var d = domid.ToString(CultureInfo.InvariantCulture);
        await using var victim = BenchProcess.StartHost($"guest {d}",
        [
            "sim-guest", "--sim-root", _root.Path, "--domid", d, "--ip", $"10.200.{domid >> 8}.{domid & 0xff}",
            "--mac", $"00:16:3e:c8:{domid >> 8:x2}:{domid & 0xff:x2}", "--create-vif", "--bridge", VictimBridge, "--mode", "echo",
        ]);
        await WaitVifAsync(domid, v => v.State == "Connected", "was Connected", cancellationToken).ConfigureAwait(false);
        victim.Signal(9);
        await victim.WaitForExitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        await _toolstack.DestroyGuestAsync(_root, domid, cancellationToken: cancellationToken).ConfigureAwait(false);
        await WaitVifGoneAsync(domid, cancellationToken).ConfigureAwait(false);
    }

    private async Task HostileAsync(string hostileClass, CancellationToken cancellationToken)
    {
        var domid = _nextHostile++;
        var mac = $"00:16:3e:ad:{domid >> 8:x2}:{domid & 0xff:x2}";
        // The daemon looks at a vif's RX ring only when it has a frame for it: the RX case joins the first
        // pair's bridge, where that pair's broadcast reaches it (it sends nothing there itself).
        var rx = hostileClass.StartsWith("rx-", StringComparison.Ordinal);
        await _toolstack.CreateVifAsync(new SimVifSpec { GuestDomId = domid, Handle = 0, Mac = mac, Bridge = rx ? "soak0" : HostileBridge }, cancellationToken).ConfigureAwait(false);
        await using var store = await XenStoreClient.ConnectAsync(_socket, cancellationToken).ConfigureAwait(false);
        try
        {
            await using var front = await HostileFrontend.ConnectAsync(_root, store, domid, 0, cancellationToken).WaitAsync(StepTimeout, cancellationToken).ConfigureAwait(false);
            front.PostRxBuffers(16);
            var pushedBefore = front.TxProducer;
            await SoakHostile.MisbehaveAsync(front, hostileClass, TimeSpan.FromSeconds(2), cancellationToken).ConfigureAwait(false);
            if (rx)
                _guests[0].Announce();
            var outcome = SoakHostile.OutcomeOf(hostileClass);
            switch (outcome)
            {
                case SoakHostile.Fatal:
                    await WaitVifAsync(domid, v => v.Disabled, "was disabled", cancellationToken).ConfigureAwait(false);
                    if (front.TxResponseProducer - pushedBefore > front.TxProducer - pushedBefore)
                        throw new SoakFaultFailedException($"{hostileClass}: more TX responses than requests");
                    break;
                case SoakHostile.Errors:
                    var v = await WaitVifAsync(domid, s => s.Counters.TxErrors > 0, "answered with errors", cancellationToken).ConfigureAwait(false);
                    if (v.Disabled)
                        throw new SoakFaultFailedException($"{hostileClass}: the vif was disabled, it should have been answered with errors and gone on");
                    await WaitAnsweredAsync(front, hostileClass, cancellationToken).ConfigureAwait(false);
                    break;
                case SoakHostile.Stall:
                    await Task.Delay(500, cancellationToken).ConfigureAwait(false);
                    var s = await VifAsync(domid, cancellationToken).ConfigureAwait(false);
                    if (s is null || s.Disabled || front.TxResponseProducer != pushedBefore)
                        throw new SoakFaultFailedException($"{hostileClass}: an incomplete packet must wait on the ring, unanswered, the vif going on (disabled: {s?.Disabled}, answered {front.TxResponseProducer - pushedBefore})");
                    break;
                default:
                    await WaitAnsweredAsync(front, hostileClass, cancellationToken).ConfigureAwait(false);
                    if (await VifAsync(domid, cancellationToken).ConfigureAwait(false) is not { Disabled: false })
                        throw new SoakFaultFailedException($"{hostileClass}: the vif was disabled for traffic that is only heavy");
                    break;
            }
        }
        finally
        {
            await _toolstack.DestroyGuestAsync(_root, domid, cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        await WaitVifGoneAsync(domid, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Every TX request pushed has exactly one response (rsp_prod reaches req_prod, never passes it).</summary>
    private static async Task WaitAnsweredAsync(HostileFrontend front, string hostileClass, CancellationToken cancellationToken)
    {
        var deadline = Stopwatch.StartNew();
        while (front.TxResponseProducer != front.TxProducer)
        {
            if ((int)(front.TxResponseProducer - front.TxProducer) > 0)
                throw new SoakFaultFailedException($"{hostileClass}: TX rsp_prod {front.TxResponseProducer} passed req_prod {front.TxProducer}");
            if (deadline.Elapsed > StepTimeout)
                throw new SoakFaultFailedException($"{hostileClass}: {front.TxProducer - front.TxResponseProducer} TX requests never answered");
            await Task.Delay(10, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// SIGTERM (an orderly stop: nothing in flight may be lost) or SIGKILL (at most a window per stream
    /// lost, and the streams resume), then a new daemon, which must re-attach every vif without the
    /// guests reconnecting.
    /// </summary>
    private async Task RestartDaemonAsync(bool kill, CancellationToken cancellationToken)
    {
        var end = kill ? Excuse(_guests.Where((_, i) => i % 2 == 0), "sigkill") : null;
        var from = _guests.Select(g => g.Next).ToList();
        Volatile.Write(ref _daemonExpectedDown, true);
        var old = _daemon!;
        if (kill)
        {
            await old.KillAsync().ConfigureAwait(false);
        }
        else
        {
            var code = await old.StopAsync().ConfigureAwait(false);
            if (code != 0)
            {
                _report.DaemonCrashes++;
                _report.DaemonLogs.Add($"daemon #{_incarnation} exited with {code} on SIGTERM:\n{old.Log}");
                throw new SoakFaultFailedException($"the daemon exited with {code} on SIGTERM");
            }
            // A flush that ran out says so at Warning: kept, so that a loss at this restart can be told
            // apart from one after it (the 5-minute run of 2026-12-06 lost 1 or 2 frames on 7 streams at
            // one SIGTERM and had no log of it).
            if (old.Log.Contains("orderly stop:", StringComparison.Ordinal))
                _report.DaemonLogs.Add($"daemon #{_incarnation} at its SIGTERM ({Now}):\n{old.Log}");
        }
        await old.DisposeAsync().ConfigureAwait(false);
        await StartDaemonAsync(cancellationToken).ConfigureAwait(false);
        Volatile.Write(ref _daemonExpectedDown, false);
        foreach (var g in _guests)
            await WaitVifAsync(g.DomId, v => v.State == "Connected", "was re-attached", cancellationToken).ConfigureAwait(false);
        var reconnected = _guests.Where(g => g.Netfront?.IsConnected != true).Select(g => g.DomId).ToList();
        if (reconnected.Count > 0)
            throw new SoakFaultFailedException($"guest(s) {string.Join(", ", reconnected)} not Connected after the restart");
        await WaitResumedAsync(_guests.Where((_, i) => i % 2 == 0), cancellationToken).ConfigureAwait(false);
        end?.Invoke();
        if (kill)
        {
            // SIMXEN: a crash may lose or repeat the frames in flight inside the daemon: at most a window a stream.
            for (var i = 0; i < _guests.Count; i++)
            {
                var lost = _guests[i].Peer.Check.LostIn(from[i] - options.Window, _guests[i].Next);
                if (lost > options.Window)
                    throw new SoakFaultFailedException($"stream {_guests[i].DomId}→{_guests[i].Peer.DomId} lost {lost} frames at the SIGKILL, more than a window ({options.Window})");
            }
        }
    }

    /// <summary>After the senders stop: whatever is in flight arrives, or never will (300 ms without progress, 10 s at most).</summary>
    private async Task DrainAsync(CancellationToken cancellationToken)
    {
        var last = -1L;
        var quiet = Stopwatch.StartNew();
        var settle = Stopwatch.StartNew();
        while (settle.Elapsed < TimeSpan.FromSeconds(10))
        {
            if (_guests.All(g => g.Peer.Check.Expected >= g.Next) && _guests.All(g => g.Netfront?.TxOutstanding == 0))
                break;
            var received = _guests.Sum(g => g.Check.Received);
            if (received != last)
            {
                last = received;
                quiet.Restart();
            }
            else if (quiet.Elapsed > TimeSpan.FromMilliseconds(300))
            {
                break;
            }
            await Task.Delay(10, cancellationToken).ConfigureAwait(false);
        }
        // Pongs of the last pings, and the daemon's counters, settle too.
        await Task.Delay(200, cancellationToken).ConfigureAwait(false);
    }

    private async Task CheckAsync(CancellationToken cancellationToken)
    {
        var checks = _report.Checks;
        checks.Add(new SoakCheck("daemon crashes 0", _report.DaemonCrashes == 0, $"{_report.DaemonCrashes} crash(es) in {_report.DaemonIncarnations} incarnation(s)"));
        var failed = _report.Faults.Where(f => f.Outcome != "ok").ToList();
        checks.Add(new SoakCheck("every fault handled", failed.Count == 0 && _report.Faults.Count > 0,
            failed.Count == 0 ? $"{_report.Faults.Count} faults" : string.Join("; ", failed.Select(f => $"{f.Fault}: {f.Outcome}"))));

        _report.Streams = _guests.Select(g => g.Peer.Check.Result(g.Next)).ToList();
        var streams = _report.Streams;
        var lost = streams.Where(s => s.Lost > 0).ToList();
        checks.Add(new SoakCheck("frames lost 0 outside excused faults", lost.Count == 0,
            lost.Count == 0 ? $"{streams.Sum(s => s.Received)} frames received of {streams.Sum(s => s.Sent)} sent"
                : string.Join("; ", lost.Select(s => $"stream {s.Stream}: {s.Lost} lost, first #{s.FirstLost}"))));
        checks.Add(new SoakCheck("frames corrupted 0", streams.All(s => s.Corrupted == 0), $"{streams.Sum(s => s.Corrupted)} corrupted"));
        checks.Add(new SoakCheck("duplicates 0 outside excused faults", streams.All(s => s.Duplicates == 0),
            $"{streams.Sum(s => s.Duplicates)} duplicated, {streams.Sum(s => s.ExcusedDuplicates)} repeated inside excused faults, {streams.Sum(s => s.OutOfOrder)} out of order"));

        // Exactly one response per request: each guest's TX ring fully answered, never over-answered
        // (the netfront counts responses with no request outstanding as a broken ring), and the daemon
        // has answered every request it consumed on both rings.
        var ringProblems = new List<string>();
        lock (_ringFaults)
            ringProblems.AddRange(_ringFaults);
        foreach (var g in _guests)
        {
            if (g.Netfront is not { } n)
                ringProblems.Add($"guest {g.DomId}: no netfront at the end");
            else if (n.TxOutstanding != 0)
                ringProblems.Add($"guest {g.DomId}: {n.TxOutstanding} TX requests unanswered after the drain");
        }
        var status = await _daemon!.StatusAsync(cancellationToken).ConfigureAwait(false);
        foreach (var v in status.Vifs.Where(v => _guests.Any(g => g.DomId == v.DomId)))
        {
            if (v.Rings.TxReqCons != v.Rings.TxRspProd)
                ringProblems.Add($"vif {v.Name}: TX req_cons {v.Rings.TxReqCons} but rsp_prod {v.Rings.TxRspProd}");
            if (v.Rings.RxReqCons != v.Rings.RxRspProd)
                ringProblems.Add($"vif {v.Name}: RX req_cons {v.Rings.RxReqCons} but rsp_prod {v.Rings.RxRspProd}");
            if (v.Counters.TxErrors != 0)
                ringProblems.Add($"vif {v.Name}: {v.Counters.TxErrors} TX errors on a well-behaved guest");
        }
        checks.Add(new SoakCheck("exactly one response per consumed request", ringProblems.Count == 0,
            ringProblems.Count == 0 ? $"{_guests.Count} guests' rings balanced at the end" : string.Join("; ", ringProblems)));

        _report.TreeRestartMs = SoakPercentiles.Of([.. _restartMs]);
        checks.Add(new SoakCheck($"tree-restart p99 <= {options.RestartP99TargetMs} ms", _report.TreeRestartMs is null || _report.TreeRestartMs.P99 <= options.RestartP99TargetMs,
            _report.TreeRestartMs is { } t ? string.Create(CultureInfo.InvariantCulture, $"{t.Count} restarts: p50 {t.P50:F2} ms, p99 {t.P99:F2} ms, max {t.Max:F2} ms") : "no tree restart in this run"));
        RoundTrips();

        await ReleaseGuestsAsync(cancellationToken).ConfigureAwait(false);
        var end = await _daemon.MemoryAsync(cancellationToken).ConfigureAwait(false);
        _report.End = end;
        var (rss, fds) = (end.RssKiB, end.Fds);
        var baseline = _report.Baseline!;
        // Code files (assemblies, their symbols, native libraries) are left out: the runtime opens one the
        // first time a code path needs it (an error logged with its stack trace, say) and keeps it for good.
        var endFds = _daemon.FdTargets();
        var baselineOther = _baselineFds.Where(t => !IsCode(t.Key)).Sum(t => t.Value);
        var endOther = endFds.Where(t => !IsCode(t.Key)).Sum(t => t.Value);
        var extra = endFds.Select(t => (t.Key, Count: t.Value - _baselineFds.GetValueOrDefault(t.Key))).Where(t => t.Count > 0 && !IsCode(t.Key)).Select(t => $"{t.Count} x {t.Key}");
        checks.Add(new SoakCheck("daemon fds back to baseline", endOther <= baselineOther,
            $"{endOther} fds other than code files at the end, {baselineOther} before any guest ({fds} and {baseline.Fds} in all){(endOther > baselineOther ? "; more than before: " + string.Join(", ", extra) : "")}"));
        checks.Add(new SoakCheck("daemon RSS back to baseline", rss <= baseline.RssKiB + options.RssToleranceKiB,
            $"VmRSS {rss} KiB at the end, {baseline.RssKiB} KiB before any guest (tolerance {options.RssToleranceKiB} KiB)"));
        Volatile.Write(ref _daemonExpectedDown, true);
        var code = await _daemon.StopAsync().ConfigureAwait(false);
        checks.Add(new SoakCheck("daemon stops cleanly at the end", code == 0, $"exit code {code}"));
    }

    private static bool IsCode(string target) =>
        target.EndsWith(".dll", StringComparison.Ordinal) || target.EndsWith(".pdb", StringComparison.Ordinal) || target.Contains(".so", StringComparison.Ordinal);

    /// <summary>Round trips of all pings, and of those sent by guests outside the faulted pair just after a ring fault was injected.</summary>
    private void RoundTrips()
    {
        var toUs = 1e6 / Stopwatch.Frequency;
        var window = (long)(NeighbourRestartWindow.TotalSeconds * Stopwatch.Frequency);
        var all = new List<double>();
        var during = new List<double>();
        for (var i = 0; i < _guests.Count; i++)
        {
            foreach (var (sentAt, ticks) in _guests[i].RoundTrips())
            {
                all.Add(ticks * toUs);
                foreach (var (at, guest) in _restarts)
                {
                    if (guest / 2 != i / 2 && sentAt >= at && sentAt < at + window)
                    {
                        during.Add(ticks * toUs);
                        break;
                    }
                }
            }
        }
        _report.RoundTripUs = SoakPercentiles.Of(all);
        _report.RoundTripDuringNeighbourRestartUs = SoakPercentiles.Of(during);
    }

    /// <summary>The guests go as a toolstack destroying them would; the daemon must forget every vif.</summary>
    private async Task ReleaseGuestsAsync(CancellationToken cancellationToken)
    {
        foreach (var g in _guests)
        {
            if (g.Netfront is { } n)
            {
                g.Netfront = null;
                await n.DisposeAsync().ConfigureAwait(false);
            }
            await _toolstack.DestroyGuestAsync(_root, g.DomId, cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        var deadline = Stopwatch.StartNew();
        while ((await _daemon!.StatusAsync(cancellationToken).ConfigureAwait(false)).Vifs.Count > 0 && deadline.Elapsed < StepTimeout)
            await Task.Delay(50, cancellationToken).ConfigureAwait(false);
        var left = (await _daemon.StatusAsync(cancellationToken).ConfigureAwait(false)).Vifs.Count;
        _report.Checks.Add(new SoakCheck("every vif forgotten once the guests are gone", left == 0, $"{left} vif(s) still listed"));
        // Let the daemon finish what the removals started (actors stopping, mappings released).
        await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken).ConfigureAwait(false);
    }
}
