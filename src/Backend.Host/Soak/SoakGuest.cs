using System.Diagnostics;
using System.Globalization;
using Backend.Xen.Platform.Sim.Netfront;

namespace Backend.Host.Soak;

/// <summary>
/// One of the soak's well-behaved guests (in the soak's process, as the bench's guests are): its netfront,
/// which a fault may replace (vif removed and re-added), a sequenced stream to its peer paced at a rate
/// with at most a window of frames unacknowledged (the peer's <see cref="SoakStreamCheck.Expected"/> is
/// the acknowledgement, so a lost frame never stalls the window), a ping to its peer every few
/// milliseconds for round-trip times, and the check of its peer's stream.
/// </summary>
internal sealed class SoakGuest : ISimFrameConsumer
{
    private const int MaxRoundTrips = 1 << 20;
    private static readonly long ProbeAfterTicks = Stopwatch.Frequency / 4;
    private readonly byte[] _frame;
    private readonly byte[] _echo = new byte[SoakFrame.MinLength];
    private readonly byte[] _ping = new byte[SoakFrame.MinLength];
    private readonly List<(long SentAt, long Ticks)> _roundTrips = [];
    private long _next;
    private long _pingSequence;
    private long _foreign;
    private long _announces;
    private SimNetfront? _netfront;

    public SoakGuest(ushort domid, int maxFrame)
    {
        DomId = domid;
        MaxFrame = maxFrame;
        _frame = new byte[maxFrame];
        Mac = [0x00, 0x16, 0x3e, 0x50, (byte)(domid >> 8), (byte)domid];
        Check = null!;
    }

    public ushort DomId { get; }

    public int MaxFrame { get; }

    public byte[] Mac { get; }

    public string MacText => string.Join(':', Mac.Select(b => b.ToString("x2", CultureInfo.InvariantCulture)));

    public SoakGuest Peer { get; set; } = null!;

    /// <summary>The check of the stream this guest receives (its peer's).</summary>
    public SoakStreamCheck Check { get; set; }

    public SimNetfront? Netfront
    {
        get => Volatile.Read(ref _netfront);
        set => Volatile.Write(ref _netfront, value);
    }

    /// <summary>The next sequence number to send: frames 0 .. Next-1 have been put on the TX ring.</summary>
    public long Next => Interlocked.Read(ref _next);

    public long Foreign => Interlocked.Read(ref _foreign);

    public long Announces => Interlocked.Read(ref _announces);

    /// <summary>The round trips so far: when each ping was sent and how long its pong took, in Stopwatch ticks.</summary>
    public List<(long SentAt, long Ticks)> RoundTrips()
    {
        lock (_roundTrips)
            return [.. _roundTrips];
    }

    /// <summary>
    /// Streams to the peer until <paramref name="stop"/>, at <paramref name="rate"/> frames a second, with
    /// at most <paramref name="window"/> unacknowledged; pings every <paramref name="pingEvery"/>.
    /// A frame that cannot go (no rings: the vif is being replaced or reconnects) is tried again, with the
    /// same sequence number, until it can.
    /// </summary>
    public async Task RunAsync(int rate, int window, TimeSpan pingEvery, CancellationToken stop)
    {
        await Task.Yield();
        var started = Stopwatch.GetTimestamp();
        var lastPing = 0L;
        var lastAck = -1L;
        var lastAckAt = started;
        var pingTicks = (long)(pingEvery.TotalSeconds * Stopwatch.Frequency);
        while (!stop.IsCancellationRequested)
        {
            var now = Stopwatch.GetTimestamp();
            if (now - lastPing >= pingTicks)
            {
                lastPing = now;
                SendPing(now);
            }
            var next = Next;
            var due = (long)((now - started) / (double)Stopwatch.Frequency * rate);
            var ack = Peer.Check.Expected;
            if (ack != lastAck)
            {
                lastAck = ack;
                lastAckAt = now;
            }
            // A full window whose acknowledgement has not moved for a while has lost its tail (a fault
            // dropped the frames in flight): one more frame goes as a probe, whose arrival moves it again.
            var windowFull = next - ack >= window && now - lastAckAt < ProbeAfterTicks;
            if (next >= due || windowFull)
            {
                await Delay(stop).ConfigureAwait(false);
                continue;
            }
            var length = SoakFrame.Length(next, MaxFrame);
            var frame = _frame.AsSpan(0, length);
            SoakFrame.Build(frame, Peer.Mac, Mac, SoakFrame.Stream, DomId, next, now);
            bool sent;
            try
            {
                sent = Netfront?.TrySend(frame) ?? false;
            }
            catch (InvalidOperationException)
            {
                sent = false; // no rings now
            }
            if (!sent)
            {
                await Delay(stop).ConfigureAwait(false);
                continue;
            }
            Interlocked.Exchange(ref _next, next + 1);
            if (next - ack >= window)
                lastAckAt = now; // probe sent: wait as long again before the next one
        }
    }

    private static async Task Delay(CancellationToken stop)
    {
        try
        {
            await Task.Delay(1, stop).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>One broadcast, so that the bridge learns this guest's MAC (after connecting, SIMXEN "Frames").</summary>
    public bool Announce()
    {
        var frame = new byte[SoakFrame.MinLength];
        SoakFrame.Build(frame, [0xff, 0xff, 0xff, 0xff, 0xff, 0xff], Mac, SoakFrame.Announce, DomId, 0, 0);
        try
        {
            return Netfront?.TrySend(frame) ?? false;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }

    private void SendPing(long now)
    {
        var sequence = Interlocked.Increment(ref _pingSequence);
        lock (_ping)
        {
            SoakFrame.Build(_ping, Peer.Mac, Mac, SoakFrame.Ping, DomId, sequence, now);
            try
            {
                Netfront?.TrySend(_ping);
            }
            catch (InvalidOperationException)
            {
                // No rings now: this ping is simply not sent.
            }
        }
    }

    public void OnFrame(ReadOnlySpan<byte> frame, in SimRxFrameInfo info)
    {
        if (!SoakFrame.TryRead(frame, out var kind, out var stream, out var sequence, out var timestamp))
        {
            Interlocked.Increment(ref _foreign);
            return;
        }
        switch (kind)
        {
            case SoakFrame.Stream when stream == Peer.DomId:
                Check.Observe(sequence, SoakFrame.IsIntact(frame, stream, sequence));
                break;
            case SoakFrame.Ping when stream == Peer.DomId && frame.Length == SoakFrame.MinLength:
                // Answered from the event channel loop, as the bench's ping-pong does: a full ring loses the pong.
                frame.CopyTo(_echo);
                SoakFrame.Build(_echo, Peer.Mac, Mac, SoakFrame.Pong, stream, sequence, timestamp);
                try
                {
                    Netfront?.TrySend(_echo);
                }
                catch (InvalidOperationException)
                {
                }
                break;
            case SoakFrame.Pong when stream == DomId:
                lock (_roundTrips)
                {
                    if (_roundTrips.Count < MaxRoundTrips)
                        _roundTrips.Add((timestamp, Stopwatch.GetTimestamp() - timestamp));
                }
                break;
            case SoakFrame.Announce:
                Interlocked.Increment(ref _announces);
                break;
            default:
                Interlocked.Increment(ref _foreign);
                break;
        }
    }
}
