using System.Diagnostics;
using Backend.Xen.Abi;
using Backend.Xen.Platform.Sim.Netfront;

namespace Backend.Host.Bench;

/// <summary>
/// One simulated guest of the bench: its netfront, and what it does with the frames it receives. A
/// stream's receiver counts frames and checks their order (and opens its sender's window); a ping's
/// receiver echoes it at once from the receive callback; a pong's receiver records the round trip and
/// sends the next ping. Sending and receiving touch no allocation, so that the guests' own garbage
/// collections do not colour the backend's figures.
/// </summary>
internal sealed class BenchGuest : ISimFrameConsumer
{
    /// <summary>Round trips kept per pinger and run; later ones are counted but not kept.</summary>
    private const int MaxSamples = 1 << 18;

    /// <summary>The sender waits for this many free places in its window before it is woken (fewer wake-ups).</summary>
    private const int WindowHysteresis = 32;

    private readonly SemaphoreSlim _windowOpen = new(0);
    private readonly long[] _roundTrips = new long[MaxSamples];
    private byte[] _echo = [];
    private int _waitingForWindow;
    private long _sent;
    private long _received;
    private long _expected;
    private long _outOfOrder;
    private long _broadcasts;
    private long _foreign;
    private long _pongs;
    private long _echoFailures;
    private int _samples;
    private int _warmup;
    private volatile bool _pinging;
    private long _window;

    public BenchGuest(ushort domId)
    {
        DomId = domId;
        Mac = [0x00, 0x16, 0x3e, (byte)(domId >> 8), (byte)domId, 0x01];
    }

    public ushort DomId { get; }

    public byte[] Mac { get; }

    public string MacText => string.Join(':', Mac.Select(b => b.ToString("x2", System.Globalization.CultureInfo.InvariantCulture)));

    public SimNetfront? Netfront { get; set; }

    /// <summary>The guest it streams to (or pings), and that streams to it.</summary>
    public BenchGuest? Peer { get; set; }

    /// <summary>Whether the backend offers GSO TCPv4 (read after connecting); we always offer it.</summary>
    public bool BackendGso { get; set; }

    /// <summary>The frame this guest sends, built once per run.</summary>
    public byte[] Frame { get; private set; } = [];

    public SimTxOptions TxOptions { get; private set; }

    public int HeaderOffset { get; private set; }

    public long Sent => Interlocked.Read(ref _sent);
    public long Received => Interlocked.Read(ref _received);
    public long OutOfOrder => Interlocked.Read(ref _outOfOrder);
    public long Broadcasts => Interlocked.Read(ref _broadcasts);
    public long Pongs => Interlocked.Read(ref _pongs);
    public long EchoFailures => Interlocked.Read(ref _echoFailures);
    public long Foreign => Interlocked.Read(ref _foreign);

    /// <summary>Sets up a run: the frame to send, and every counter at zero. Call only when no frame is in flight.</summary>
    public void Prepare(int size, bool gso, long window)
    {
        var tcp = gso || size == BenchFrame.GsoFrameLength;
        if (Frame.Length != size || HeaderOffset != BenchFrame.HeaderOffset(tcp))
        {
            Frame = new byte[size];
            BenchFrame.Build(Frame, Peer!.Mac, Mac, tcp);
            _echo = new byte[size];
        }
        HeaderOffset = BenchFrame.HeaderOffset(tcp);
        TxOptions = gso
            ? new SimTxOptions { GsoType = NetifGsoType.TcpV4, GsoSize = BenchFrame.GsoSize, CsumBlank = true }
            : default;
        _window = window;
        Interlocked.Exchange(ref _sent, 0);
        Interlocked.Exchange(ref _received, 0);
        Interlocked.Exchange(ref _expected, 0);
        Interlocked.Exchange(ref _outOfOrder, 0);
        Interlocked.Exchange(ref _pongs, 0);
        Interlocked.Exchange(ref _echoFailures, 0);
        _samples = 0;
        _warmup = 0;
        while (_windowOpen.CurrentCount > 0)
            _windowOpen.Wait(0);
    }

    /// <summary>
    /// Streams frames to <see cref="Peer"/> until <paramref name="stop"/>: with a window, never more than
    /// that many sent and not yet received; without one, as fast as the TX ring takes them.
    /// </summary>
    public async Task StreamAsync(CancellationToken stop)
    {
        await Task.Yield();
        var netfront = Netfront!;
        var peer = Peer!;
        var frame = Frame;
        var options = TxOptions;
        var window = _window;
        long sequence = 0;
        try
        {
            while (!stop.IsCancellationRequested)
            {
                if (window > 0 && sequence - peer.Received >= window)
                {
                    Volatile.Write(ref _waitingForWindow, 1);
                    if (sequence - peer.Received >= window)
                        await _windowOpen.WaitAsync(stop).ConfigureAwait(false);
                    Volatile.Write(ref _waitingForWindow, 0);
                    continue;
                }
                BenchFrame.Stamp(frame, HeaderOffset, BenchFrame.Stream, sequence, 0);
                if (!netfront.TrySend(frame, options))
                    await netfront.SendAsync(frame, options, stop).ConfigureAwait(false);
                sequence++;
                Interlocked.Exchange(ref _sent, sequence);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>Starts a ping-pong with <see cref="Peer"/>: the pongs keep it going until <see cref="StopPinging"/>.</summary>
    public void StartPinging(int warmup)
    {
        _warmup = warmup;
        _pinging = true;
        SendPing();
    }

    public void StopPinging() => _pinging = false;

    /// <summary>A ping (or its pong) was lost, or its send failed: start again with a fresh one.</summary>
    public void SendPing()
    {
        var sequence = Interlocked.Increment(ref _sent);
        BenchFrame.Stamp(Frame, HeaderOffset, BenchFrame.Ping, sequence, Stopwatch.GetTimestamp());
        try
        {
            Netfront!.TrySend(Frame, TxOptions);
        }
        catch (InvalidOperationException)
        {
            // Disconnected meanwhile: the watchdog of the run reports no progress.
        }
    }

    /// <summary>The round trips of the last ping-pong, in Stopwatch ticks.</summary>
    public ReadOnlySpan<long> RoundTrips => _roundTrips.AsSpan(0, Math.Min(_samples, MaxSamples));

    public void OnFrame(ReadOnlySpan<byte> frame, in SimRxFrameInfo info)
    {
        if (!BenchFrame.TryRead(frame, out var kind, out var sequence, out var timestamp, out var headerOffset))
        {
            Interlocked.Increment(ref _foreign);
            return;
        }
        switch (kind)
        {
            case BenchFrame.Broadcast:
                Interlocked.Increment(ref _broadcasts);
                break;
            case BenchFrame.Stream:
                if (sequence != _expected)
                    Interlocked.Increment(ref _outOfOrder);
                _expected = sequence + 1;
                var received = Interlocked.Increment(ref _received);
                var sender = Peer!;
                if (Volatile.Read(ref sender._waitingForWindow) != 0 && sender.Sent - received <= sender._window - WindowHysteresis
                    && Interlocked.Exchange(ref sender._waitingForWindow, 0) != 0)
                {
                    sender._windowOpen.Release();
                }
                break;
            case BenchFrame.Ping:
                Interlocked.Increment(ref _received);
                Echo(frame, headerOffset);
                break;
            case BenchFrame.Pong:
                if (sequence != Interlocked.Read(ref _sent))
                    break; // a pong for a ping the watchdog gave up on
                var elapsed = Stopwatch.GetTimestamp() - timestamp;
                Interlocked.Increment(ref _pongs);
                if (_warmup > 0)
                    _warmup--;
                else if (_samples < MaxSamples)
                    _roundTrips[_samples++] = elapsed;
                if (_pinging)
                    SendPing();
                break;
            default:
                Interlocked.Increment(ref _foreign);
                break;
        }
    }

    private void Echo(ReadOnlySpan<byte> frame, int headerOffset)
    {
        if (frame.Length > _echo.Length)
        {
            Interlocked.Increment(ref _echoFailures);
            return;
        }
        var echo = _echo.AsSpan(0, frame.Length);
        frame.CopyTo(echo);
        frame[6..12].CopyTo(echo);
        Mac.CopyTo(echo[6..]);
        echo[headerOffset] = BenchFrame.Pong;
        try
        {
            if (!Netfront!.TrySend(echo, TxOptions))
                Interlocked.Increment(ref _echoFailures);
        }
        catch (InvalidOperationException)
        {
            Interlocked.Increment(ref _echoFailures);
        }
    }
}
