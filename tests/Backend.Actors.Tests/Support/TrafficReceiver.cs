using System.Buffers.Binary;
using Backend.Xen.Platform.Sim.Netfront;

namespace Backend.Actors.Tests.Support;

/// <summary>
/// What one guest receives from its traffic peer: each <see cref="CheckedFrames"/> frame from the peer's MAC
/// is checked (payload hash, length) and recorded by sequence number, so that loss, duplicates and
/// corruption can be told apart. Frames from any other source (flooded while the bridge relearns a MAC)
/// are counted and otherwise ignored. Marker frames (ethertype <see cref="MarkerEtherType"/>: the hello
/// broadcast, a hostile guest's probe) are counted per source MAC.
/// <para>
/// A floor lets a test exclude the sequence numbers a crash may lose or repeat (SIMXEN "What the daemon
/// promises"): <see cref="DistinctAtOrAboveFloor"/> and <see cref="DuplicatesAtOrAboveFloor"/> only
/// count frames at or above it.
/// </para>
/// </summary>
public sealed class TrafficReceiver(ReadOnlyMemory<byte> peerMac) : ISimFrameConsumer
{
    public const ushort MarkerEtherType = 0x88B6;
    private const int Capacity = 1 << 18;

    private readonly ulong _peer = MacKey(peerMac.Span);
    private readonly bool[] _seen = new bool[Capacity];
    private readonly Lock _gate = new();
    private readonly Dictionary<ulong, int> _markers = [];
    private readonly List<string> _problems = [];
    private uint _floor;
    private int _distinct;
    private int _distinctAboveFloor;
    private int _duplicates;
    private int _duplicatesAboveFloor;
    private int _foreign;

    public int Distinct { get { lock (_gate) return _distinct; } }

    public int DistinctAtOrAboveFloor { get { lock (_gate) return _distinctAboveFloor; } }

    public int Duplicates { get { lock (_gate) return _duplicates; } }

    public int DuplicatesAtOrAboveFloor { get { lock (_gate) return _duplicatesAboveFloor; } }

    /// <summary>Test frames that came from a MAC other than the peer's.</summary>
    public int Foreign { get { lock (_gate) return _foreign; } }

    public uint Floor { get { lock (_gate) return _floor; } }

    /// <summary>Corrupted frames, and sequence numbers beyond what any sender may use.</summary>
    public IReadOnlyList<string> Problems { get { lock (_gate) return [.. _problems]; } }

    public int MarkersFrom(ReadOnlySpan<byte> mac)
    {
        var key = MacKey(mac);
        lock (_gate)
            return _markers.GetValueOrDefault(key);
    }

    /// <summary>Sequence numbers below <paramref name="count"/> (and at or above the floor) never received.</summary>
    public List<uint> Missing(int count)
    {
        var missing = new List<uint>();
        lock (_gate)
            for (var s = _floor; s < count; s++)
                if (!_seen[s])
                    missing.Add(s);
        return missing;
    }

    /// <summary>From now on only sequence numbers from <paramref name="floor"/> up are held to zero loss.</summary>
    public void SetFloor(uint floor)
    {
        lock (_gate)
        {
            _floor = floor;
            _distinctAboveFloor = 0;
            _duplicatesAboveFloor = 0;
            for (var s = floor; s < Capacity; s++)
                if (_seen[s])
                    _distinctAboveFloor++;
        }
    }

    public void OnFrame(ReadOnlySpan<byte> frame, in SimRxFrameInfo info)
    {
        if (frame.Length >= 14 && BinaryPrimitives.ReadUInt16BigEndian(frame[12..]) == MarkerEtherType)
        {
            var source = MacKey(frame[6..12]);
            lock (_gate)
                _markers[source] = _markers.GetValueOrDefault(source) + 1;
            return;
        }
        var sequence = CheckedFrames.Verify(frame, out var corruption);
        if (sequence is not { } s)
            return;
        lock (_gate)
        {
            if (MacKey(frame[6..12]) != _peer)
            {
                _foreign++;
                return;
            }
            if (corruption is not null)
            {
                _problems.Add(corruption);
                return;
            }
            if (s >= Capacity)
            {
                _problems.Add($"frame {s}: sequence number beyond any sender's");
                return;
            }
            if (_seen[s])
            {
                _duplicates++;
                if (s >= _floor)
                    _duplicatesAboveFloor++;
                return;
            }
            _seen[s] = true;
            _distinct++;
            if (s >= _floor)
                _distinctAboveFloor++;
        }
    }

    public static ulong MacKey(ReadOnlySpan<byte> mac)
    {
        ulong key = 0;
        for (var i = 0; i < 6; i++)
            key = (key << 8) | mac[i];
        return key;
    }
}
