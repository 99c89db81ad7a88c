using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using static Backend.Xen.Platform.Sim.Netfront.SimIpv4Frames;

namespace Backend.Xen.Platform.Sim.Netfront;

/// <summary>
/// A guest's tiny IPv4 stack on a <see cref="SimNetfront"/>: answers ARP requests for its address and
/// ICMP echo requests to it (checksums verified on the request, computed on the reply), so that ping
/// works against the guest; learns ARP replies, and sends pings of its own, timing the round trip.
/// Everything else goes to the next consumer. Answers are built in one buffer kept for the purpose and
/// sent without waiting; an answer that finds the TX ring full is dropped and counted, as a stack would.
/// </summary>
public sealed class SimIpResponder : ISimFrameConsumer
{
    private static readonly byte[] Broadcast = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
    private static readonly byte[] Zero = new byte[6];

    private readonly SimNetfront _front;
    private readonly byte[] _mac;
    private readonly uint _ip;
    private readonly ISimFrameConsumer? _next;
    private readonly byte[] _reply = new byte[SimNetfrontLayout.MaxFrame];
    private readonly Lock _gate = new();
    private readonly Dictionary<uint, byte[]> _arpCache = [];
    private readonly Dictionary<uint, TaskCompletionSource> _arpWaiters = [];
    private readonly Dictionary<ushort, (TaskCompletionSource<long> Done, long Sent)> _pings = [];
    private readonly ushort _identifier;
    private long _arpAnswered, _echoAnswered, _dropped, _badChecksums;
    private int _ipId;

    /// <summary>Answers for <paramref name="address"/> on <paramref name="front"/>, which it becomes the consumer of.</summary>
    public SimIpResponder(SimNetfront front, IPAddress address, ISimFrameConsumer? next = null)
    {
        ArgumentNullException.ThrowIfNull(front);
        ArgumentNullException.ThrowIfNull(address);
        if (address.AddressFamily != AddressFamily.InterNetwork)
            throw new ArgumentException($"{address} is not an IPv4 address", nameof(address));
        _front = front;
        _mac = front.Mac.ToArray();
        _ip = ToUInt32(address);
        _next = next;
        _identifier = (ushort)(0x5800 + front.DomId);
        front.Consumer = this;
    }

    public IPAddress Address => new(BinaryPrimitives.ReverseEndianness(_ip));

    public long ArpAnswered => Interlocked.Read(ref _arpAnswered);
    public long EchoAnswered => Interlocked.Read(ref _echoAnswered);

    /// <summary>Answers dropped for want of TX ring space, or because the vif was not connected.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>Requests ignored because their IPv4 or ICMP checksum was wrong.</summary>
    public long BadChecksums => Interlocked.Read(ref _badChecksums);

    public void OnFrame(ReadOnlySpan<byte> frame, in SimRxFrameInfo info)
    {
        if (frame.Length >= EthernetHeader)
        {
            var type = BinaryPrimitives.ReadUInt16BigEndian(frame[12..]);
            if (type == EtherTypeArp && OnArp(frame))
                return;
            if (type == EtherTypeIpv4 && OnIpv4(frame))
                return;
        }
        _next?.OnFrame(frame, info);
    }

    /// <summary>Announces the guest (a gratuitous ARP, broadcast), which also teaches a bridge its MAC.</summary>
    public void Announce()
    {
        Span<byte> frame = stackalloc byte[ArpFrameLength];
        WriteArp(frame, ArpRequest, Broadcast, _mac, _ip, Zero, _ip);
        Send(frame);
    }

    /// <summary>
    /// Resolves <paramref name="peer"/> by ARP if need be, sends one ICMP echo request and returns the
    /// round trip; throws <see cref="TimeoutException"/> when no answer comes within <paramref name="timeout"/>.
    /// </summary>
    public async Task<TimeSpan> PingAsync(IPAddress peer, ushort sequence, int payloadBytes = 56, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(peer);
        ArgumentOutOfRangeException.ThrowIfNegative(payloadBytes);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(payloadBytes, SimNetfrontLayout.MaxFrame - EthernetHeader - Ipv4HeaderLength - IcmpHeaderLength);
        var limit = timeout ?? TimeSpan.FromSeconds(2);
        var target = ToUInt32(peer);
        var mac = await ResolveAsync(target, limit, cancellationToken).ConfigureAwait(false);
        var done = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
        var payload = new byte[payloadBytes];
        for (var i = 0; i < payload.Length; i++)
            payload[i] = (byte)(0x10 + i);
        var frame = new byte[EthernetHeader + Ipv4HeaderLength + IcmpHeaderLength + payloadBytes];
        WriteIcmpEcho(frame, IcmpEchoRequest, mac, _mac, _ip, target, _identifier, sequence, payload, NextIpId());
        var sent = Stopwatch.GetTimestamp();
        lock (_gate)
            _pings[sequence] = (done, sent);
        try
        {
            await _front.SendAsync(frame, default, cancellationToken).ConfigureAwait(false);
            var received = await done.Task.WaitAsync(limit, cancellationToken).ConfigureAwait(false);
            return Stopwatch.GetElapsedTime(sent, received);
        }
        finally
        {
            lock (_gate)
                _pings.Remove(sequence);
        }
    }

    /// <summary>The MAC of <paramref name="peer"/>, asked by ARP (re-asked every 200 ms) unless known.</summary>
    public async Task<ReadOnlyMemory<byte>> ResolveAsync(IPAddress peer, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(peer);
        return await ResolveAsync(ToUInt32(peer), timeout, cancellationToken).ConfigureAwait(false);
    }

    private async Task<byte[]> ResolveAsync(uint target, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        var frame = new byte[ArpFrameLength];
        WriteArp(frame, ArpRequest, Broadcast, _mac, _ip, Zero, target);
        while (true)
        {
            Task arrived;
            lock (_gate)
            {
                if (_arpCache.TryGetValue(target, out var known))
                    return known;
                if (!_arpWaiters.TryGetValue(target, out var waiter))
                    _arpWaiters[target] = waiter = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                arrived = waiter.Task;
            }
            var left = TimeSpan.FromSeconds((deadline - Stopwatch.GetTimestamp()) / (double)Stopwatch.Frequency);
            if (left <= TimeSpan.Zero)
                throw new TimeoutException($"no ARP reply for {new IPAddress(BinaryPrimitives.ReverseEndianness(target))} within {timeout.TotalSeconds} s");
            await _front.SendAsync(frame, default, cancellationToken).ConfigureAwait(false);
            // Re-ask every 200 ms, as a stack retransmits: the first request may meet a bridge that is still learning.
            try
            {
                await arrived.WaitAsync(TimeSpan.FromMilliseconds(Math.Min(200, left.TotalMilliseconds)), cancellationToken).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
            }
        }
    }

    private bool OnArp(ReadOnlySpan<byte> frame)
    {
        if (frame.Length < ArpFrameLength)
            return false;
        var arp = frame[EthernetHeader..];
        if (BinaryPrimitives.ReadUInt16BigEndian(arp) != 1 || BinaryPrimitives.ReadUInt16BigEndian(arp[2..]) != EtherTypeIpv4 || arp[4] != 6 || arp[5] != 4)
            return false;
        var operation = BinaryPrimitives.ReadUInt16BigEndian(arp[6..]);
        var senderMac = arp.Slice(8, 6);
        var senderIp = BinaryPrimitives.ReadUInt32BigEndian(arp[14..]);
        var targetIp = BinaryPrimitives.ReadUInt32BigEndian(arp[24..]);
        if (operation == ArpRequest && targetIp == _ip && senderIp != _ip)
        {
            var length = WriteArp(_reply, ArpReply, senderMac, _mac, _ip, senderMac, senderIp);
            SendAnswer(_reply.AsSpan(0, length), ref _arpAnswered);
            Learn(senderIp, senderMac);
            return true;
        }
        if (operation == ArpReply && targetIp == _ip)
        {
            Learn(senderIp, senderMac);
            return true;
        }
        return operation == ArpRequest; // someone else's question: nothing for the next consumer
    }

    private bool OnIpv4(ReadOnlySpan<byte> frame)
    {
        if (frame.Length < EthernetHeader + Ipv4HeaderLength)
            return false;
        var ip = frame[EthernetHeader..];
        var headerLength = (ip[0] & 0x0F) * 4;
        var totalLength = BinaryPrimitives.ReadUInt16BigEndian(ip[2..]);
        if ((ip[0] >> 4) != 4 || headerLength < Ipv4HeaderLength || totalLength < headerLength + IcmpHeaderLength || totalLength > ip.Length
            || ip[9] != ProtocolIcmp || BinaryPrimitives.ReadUInt32BigEndian(ip[16..]) != _ip
            || (BinaryPrimitives.ReadUInt16BigEndian(ip[6..]) & 0x3FFF) != 0)
        {
            return false;
        }
        var icmp = ip[headerLength..totalLength];
        if (Checksum(ip[..headerLength]) != 0 || Checksum(icmp) != 0)
        {
            Interlocked.Increment(ref _badChecksums);
            return true;
        }
        var source = BinaryPrimitives.ReadUInt32BigEndian(ip[12..]);
        var identifier = BinaryPrimitives.ReadUInt16BigEndian(icmp[4..]);
        var sequence = BinaryPrimitives.ReadUInt16BigEndian(icmp[6..]);
        if (icmp[0] == IcmpEchoRequest && icmp[1] == 0)
        {
            var length = WriteIcmpEcho(_reply, IcmpEchoReply, frame.Slice(6, 6), _mac, _ip, source, identifier, sequence, icmp[IcmpHeaderLength..], NextIpId());
            SendAnswer(_reply.AsSpan(0, length), ref _echoAnswered);
            return true;
        }
        if (icmp[0] == IcmpEchoReply && identifier == _identifier)
        {
            var now = Stopwatch.GetTimestamp();
            lock (_gate)
            {
                if (_pings.TryGetValue(sequence, out var ping))
                    ping.Done.TrySetResult(now);
            }
            return true;
        }
        return false;
    }

    private void Learn(uint ip, ReadOnlySpan<byte> mac)
    {
        if ((mac[0] & 1) != 0)
            return; // a multicast sender address is a lie
        TaskCompletionSource? waiter;
        lock (_gate)
        {
            if (_arpCache.TryGetValue(ip, out var known) && mac.SequenceEqual(known))
                return;
            _arpCache[ip] = mac.ToArray();
            _arpWaiters.Remove(ip, out waiter);
        }
        waiter?.TrySetResult();
    }

    /// <summary>
    /// Counts an answer before it leaves, and takes the count back if it could not: whoever has seen the
    /// answer (the guest that asked, a test) then sees it counted. Counted after the send, a peer's ping
    /// could complete before the count moved (TapSwitchTests saw 2 answers after its third ping's reply).
    /// </summary>
    private void SendAnswer(ReadOnlySpan<byte> frame, ref long answered)
    {
        Interlocked.Increment(ref answered);
        if (!Send(frame))
            Interlocked.Decrement(ref answered);
    }

    private bool Send(ReadOnlySpan<byte> frame)
    {
        try
        {
            if (_front.TrySend(frame))
                return true;
        }
        catch (InvalidOperationException)
        {
            // Not connected (closing, reconnecting): the answer is lost, as on a link that is down.
        }
        Interlocked.Increment(ref _dropped);
        return false;
    }

    private ushort NextIpId() => (ushort)Interlocked.Increment(ref _ipId);

    private static uint ToUInt32(IPAddress address)
    {
        Span<byte> bytes = stackalloc byte[4];
        if (!address.TryWriteBytes(bytes, out var written) || written != 4)
            throw new ArgumentException($"{address} is not an IPv4 address", nameof(address));
        return BinaryPrimitives.ReadUInt32BigEndian(bytes);
    }
}
