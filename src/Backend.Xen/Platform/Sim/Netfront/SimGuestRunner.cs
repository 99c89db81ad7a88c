using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using Backend.Xen.Platform.Sim.Toolstack;
using Backend.Xen.XenStore;

namespace Backend.Xen.Platform.Sim.Netfront;

/// <summary>
/// Runs one simulated guest from start to end, so that a guest can live in its own process (the host's
/// <c>sim-guest</c> subcommand calls <see cref="RunAsync"/>): connects its netfront, announces itself,
/// does what its mode says, then closes in an orderly way (Closing, Closed) and lets go of its files.
/// </summary>
public static class SimGuestRunner
{
    private const ushort StreamSourcePort = 40000;
    private const ushort DiscardPort = 9;

    public static async Task<SimGuestResult> RunAsync(SimGuestOptions options, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var output = options.Output ?? Console.Out;
        var root = new SimRoot(options.Root);
        var xenstorePath = options.XenStorePath ?? Path.Combine(root.Path, "xenstored.sock");
        await using var store = await XenStoreClient.ConnectAsync(xenstorePath, ct).ConfigureAwait(false);
        var toolstack = new SimToolstack(store);
        if (options.CreateVif)
        {
            await toolstack.CreateVifAsync(new SimVifSpec
            {
                GuestDomId = options.DomId,
                Handle = options.Handle,
                BackendDomId = options.BackendDomId,
                Mac = options.Mac!,
                Bridge = options.Bridge,
                Mtu = options.Mtu,
            }, ct).ConfigureAwait(false);
        }
        try
        {
            // A guest started before the toolstack made its vif waits for it, as netfront waits to be probed.
            await WaitForVifAsync(store, options, ct).ConfigureAwait(false);
            var sink = new SimFrameCounter();
            var front = await SimNetfront.StartAsync(new SimNetfrontOptions
            {
                Root = root,
                DomId = options.DomId,
                Handle = options.Handle,
                SplitEventChannels = options.SplitEventChannels,
            }, store, null, ct).ConfigureAwait(false);
            await using (front.ConfigureAwait(false))
            {
                var ip = new SimIpResponder(front, options.Ip, sink);
                using (var connectTimeout = CancellationTokenSource.CreateLinkedTokenSource(ct))
                {
                    connectTimeout.CancelAfter(options.Timeout);
                    try
                    {
                        await front.WaitForConnectedAsync(connectTimeout.Token).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException) when (!ct.IsCancellationRequested)
                    {
                        throw new TimeoutException($"vif {options.DomId}.{options.Handle} not connected within {options.Timeout.TotalSeconds} s (frontend {front.State}, backend {front.BackendState}{(front.Failure is null ? "" : ", " + front.Failure)})");
                    }
                }
                ip.Announce();
                await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"CONNECTED dom{options.DomId} vif {options.Handle} ip {options.Ip}")).ConfigureAwait(false);

                var roundTrips = new List<TimeSpan>();
                var lost = 0;
                var framesPerSecond = 0.0;
                try
                {
                    switch (options.Mode)
                    {
                        case SimGuestMode.Echo:
                            if (options.StopAfterFrames > 0)
                                await sink.WhenAtLeast(options.StopAfterFrames).WaitAsync(ct).ConfigureAwait(false);
                            else
                                await Task.Delay(Timeout.Infinite, ct).ConfigureAwait(false);
                            break;
                        case SimGuestMode.Ping:
                            lost = await PingAsync(options, ip, roundTrips, output, ct).ConfigureAwait(false);
                            break;
                        case SimGuestMode.Stream:
                            framesPerSecond = await StreamAsync(options, front, ip, output, ct).ConfigureAwait(false);
                            break;
                    }
                }
                catch (OperationCanceledException) when (ct.IsCancellationRequested)
                {
                    // Asked to stop: close in order all the same.
                }
                using (var closeTimeout = new CancellationTokenSource(options.Timeout))
                {
                    try
                    {
                        await front.CloseAsync(closeTimeout.Token).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException)
                    {
                        await output.WriteLineAsync($"backend did not close within {options.Timeout.TotalSeconds} s (backend {front.BackendState})").ConfigureAwait(false);
                    }
                }
                var result = new SimGuestResult(front.Counters, roundTrips, lost, ip.EchoAnswered, sink.Frames, framesPerSecond);
                await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                    $"DONE sent {result.Counters.Sent} received {result.Counters.Received} tx-errors {result.Counters.TxErrors} rx-errors {result.Counters.RxErrors} echo-answered {result.EchoAnswered} other-frames {result.OtherFramesReceived}")).ConfigureAwait(false);
                return result;
            }
        }
        finally
        {
            if (options.CreateVif)
                await toolstack.DestroyGuestAsync(root, options.DomId, options.BackendDomId, CancellationToken.None).ConfigureAwait(false);
        }
    }

    private static async Task WaitForVifAsync(IXenStore store, SimGuestOptions options, CancellationToken ct)
    {
        var path = SimToolstack.FrontendPath(options.DomId, options.Handle) + "/backend";
        var changed = new SemaphoreSlim(0);
        var watch = await store.WatchAsync(path, "sim-guest:" + path, _ => changed.Release(), ct).ConfigureAwait(false);
        await using (watch.ConfigureAwait(false))
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(options.Timeout);
            try
            {
                while (await store.ReadAsync(path, null, ct).ConfigureAwait(false) is null)
                    await changed.WaitAsync(timeout.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                throw new TimeoutException($"no vif {options.DomId}.{options.Handle} ({path}) within {options.Timeout.TotalSeconds} s: has the toolstack created it?");
            }
        }
    }

    private static async Task<int> PingAsync(SimGuestOptions options, SimIpResponder ip, List<TimeSpan> roundTrips, TextWriter output, CancellationToken ct)
    {
        var lost = 0;
        for (var seq = 1; seq <= options.Count; seq++)
        {
            try
            {
                var rtt = await ip.PingAsync(options.PeerIp!, (ushort)seq, 56, options.Timeout, ct).ConfigureAwait(false);
                roundTrips.Add(rtt);
                await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"64 bytes from {options.PeerIp}: icmp_seq={seq} time={rtt.TotalMilliseconds:F3} ms")).ConfigureAwait(false);
            }
            catch (TimeoutException e)
            {
                lost++;
                await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"icmp_seq={seq} lost: {e.Message}")).ConfigureAwait(false);
            }
            if (options.Interval > TimeSpan.Zero && seq < options.Count)
                await Task.Delay(options.Interval, ct).ConfigureAwait(false);
        }
        if (roundTrips.Count > 0)
        {
            double min = double.MaxValue, max = 0, sum = 0;
            foreach (var rtt in roundTrips)
            {
                min = Math.Min(min, rtt.TotalMilliseconds);
                max = Math.Max(max, rtt.TotalMilliseconds);
                sum += rtt.TotalMilliseconds;
            }
            await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"{options.Count} sent, {roundTrips.Count} received, rtt min/avg/max = {min:F3}/{sum / roundTrips.Count:F3}/{max:F3} ms")).ConfigureAwait(false);
        }
        return lost;
    }

    private static async Task<double> StreamAsync(SimGuestOptions options, SimNetfront front, SimIpResponder ip, TextWriter output, CancellationToken ct)
    {
        var peerMac = await ip.ResolveAsync(options.PeerIp!, options.Timeout, ct).ConfigureAwait(false);
        var frame = new byte[options.FrameSize];
        var source = ToUInt32(options.Ip);
        var destination = ToUInt32(options.PeerIp!);
        var stopwatch = Stopwatch.StartNew();
        for (var i = 0; i < options.Count; i++)
        {
            SimIpv4Frames.WriteUdp(frame, peerMac.Span, front.Mac.Span, source, destination, StreamSourcePort, DiscardPort, (ushort)i);
            await front.SendAsync(frame, default, ct).ConfigureAwait(false);
        }
        // Until the backend has taken them all: closing now would leave the last frames on the ring.
        await front.WaitForTxIdleAsync(ct).ConfigureAwait(false);
        stopwatch.Stop();
        var rate = options.Count / Math.Max(stopwatch.Elapsed.TotalSeconds, 1e-9);
        await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
            $"STREAM {options.Count} frames of {options.FrameSize} bytes in {stopwatch.Elapsed.TotalMilliseconds:F1} ms: {rate:F0} frames/s")).ConfigureAwait(false);
        return rate;
    }

    private static uint ToUInt32(System.Net.IPAddress address)
    {
        Span<byte> bytes = stackalloc byte[4];
        address.TryWriteBytes(bytes, out _);
        return BinaryPrimitives.ReadUInt32BigEndian(bytes);
    }
}
