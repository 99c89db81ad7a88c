using Backend.Xen.Abi;

namespace Backend.Xen.Netback;

/// <summary>
/// One vif's multicast filter, as Linux netback's <c>fe_mcast_addr</c> list and <c>multicast_control</c>
/// (<c>xenvif_mcast_add</c>, <c>xenvif_mcast_del</c>, <c>xenvif_mcast_match</c>): the frontend amends the
/// list with MCAST_ADD/MCAST_DEL extras on its TX ring (<see cref="Apply"/>), at any time (netif.h: "the
/// filter list may be amended even if the sampled value of request-multicast-control is not set"), and
/// the list is applied only while <see cref="Control"/> is on. As Linux, at most
/// <see cref="MaxAddresses"/> entries, a duplicate takes an entry of its own, any address is taken (a
/// unicast or broadcast one simply never matters), a delete removes one matching entry and is always
/// answered OKAY, and an add when the list is full is answered ERROR.
/// <para>
/// Beyond Linux (decision 83): an add refused for lack of room makes the vif accept every multicast frame
/// (<see cref="AcceptsAll"/>), so that a frontend which takes no notice of the ERROR does not lose the
/// group it joined; it lasts while more adds were refused than deletes matched nothing in the list (the
/// frontend leaving the groups it was refused), and ends at the latest when the frontend disconnects
/// (<see cref="Reset"/>). A vif re-attached by a daemon that never saw its list (<see cref="Lost"/>,
/// <see cref="Connect"/>)
/// accepts every multicast frame until its frontend connects anew.
/// </para>
/// <para>
/// Threads: <see cref="Accepts"/> is called by whoever delivers frames to the vif (other ports' forwarders,
/// the TAP reader) on their own threads, without a lock and without allocating. An entry never moves
/// while it is in the list (a slot array with a high-water mark, each slot one 64-bit word written at
/// once), so a reader sees every address that is in the list for the whole of its look-up. Writers
/// (the TX ring, the connection) take a lock: they are rare, and a vif with several queues has several.
/// </para>
/// </summary>
public sealed class MulticastFilter
{
    /// <summary>Linux's <c>XEN_NETBK_MCAST_MAX</c>.</summary>
    public const int MaxAddresses = 64;

    // A slot holds the address with this bit set, 0 when free (an address is 48 bits).
    private const ulong Present = 1UL << 63;

    private readonly ulong[] _slots = new ulong[MaxAddresses];
    private readonly Lock _writer = new();
    // Slots at and above it are free: a look-up reads no further.
    private int _highWater;
    private int _count;
    private int _refused;
    private volatile bool _control;
    private volatile bool _acceptsAll;
    private volatile bool _lost;
    // The list belongs to a connection this filter has served since its last reset.
    private bool _connected;

    /// <summary>Multicast frames for the vif that the filter dropped (counted by whoever dropped them).</summary>
    public long Filtered;

    /// <summary>
    /// The sampled <c>request-multicast-control</c> (Linux's <c>vif-&gt;multicast_control</c>): the list is
    /// applied only while it is on. Read at connect and again at each watch event.
    /// </summary>
    public bool Control
    {
        get => _control;
        set => _control = value;
    }

    /// <summary>Entries in the list, duplicates included (Linux's <c>fe_mcast_count</c>).</summary>
    public int Count => Volatile.Read(ref _count);

    /// <summary>Every multicast frame is accepted whatever the list: an add was refused (and not taken back), or the list was lost.</summary>
    public bool AcceptsAll => _acceptsAll;

    /// <summary>The vif was re-attached by a daemon that never saw its frontend build the list.</summary>
    public bool Lost => _lost;

    /// <summary>
    /// Whether a frame to <paramref name="destination"/> is delivered to the vif: always, unless it is a
    /// multicast (not broadcast) frame, control is on, and the list neither overflowed nor has the address.
    /// </summary>
    public bool Accepts(MacAddress destination)
    {
        if (!destination.IsMulticast || destination == MacAddress.Broadcast || !_control || _acceptsAll)
            return true;
        var wanted = destination.Value | Present;
        var end = Volatile.Read(ref _highWater);
        for (var i = 0; i < end; i++)
        {
            if (Volatile.Read(ref _slots[i]) == wanted)
                return true;
        }
        return false;
    }

    /// <summary>One frame dropped by the filter.</summary>
    public void CountFiltered() => Interlocked.Increment(ref Filtered);

    /// <summary>
    /// Linux's handling of a request with multicast extras in <c>xenvif_tx_build_gops</c>: an add (which
    /// wins when both are there) is answered OKAY, or ERROR when the list is full; a delete always OKAY.
    /// </summary>
    public short Apply(in TxPacket packet)
    {
        Span<byte> address = stackalloc byte[TxPacket.MulticastAddressLength];
        if (packet.HasMulticastAdd)
        {
            TxPacket.CopyMulticastAddress(packet.MulticastAdd, address);
            return Add(MacAddress.Read(address)) ? NetifResponseStatus.Okay : NetifResponseStatus.Error;
        }
        if (packet.HasMulticastDel)
        {
            TxPacket.CopyMulticastAddress(packet.MulticastDel, address);
            Delete(MacAddress.Read(address));
        }
        return NetifResponseStatus.Okay;
    }

    /// <summary><c>xenvif_mcast_add</c>: false (ERROR) when the list is full; the vif then accepts all multicast.</summary>
    public bool Add(MacAddress address)
    {
        lock (_writer)
        {
            if (_count == MaxAddresses)
            {
                _refused++;
                _acceptsAll = true;
                return false;
            }
            var slot = Array.IndexOf(_slots, 0UL, 0, MaxAddresses);
            Volatile.Write(ref _slots[slot], address.Value | Present);
            // The slot is written before a reader can be told to look that far.
            if (slot >= _highWater)
                Volatile.Write(ref _highWater, slot + 1);
            Volatile.Write(ref _count, _count + 1);
            return true;
        }
    }

    /// <summary>
    /// <c>xenvif_mcast_del</c>: removes one entry of <paramref name="address"/>. A delete that matches
    /// nothing while adds were refused is taken as the frontend leaving one of those groups.
    /// </summary>
    public void Delete(MacAddress address)
    {
        lock (_writer)
        {
            var slot = Array.IndexOf(_slots, address.Value | Present, 0, _highWater);
            if (slot < 0)
            {
                if (_refused > 0 && --_refused == 0)
                    _acceptsAll = _lost;
                return;
            }
            Volatile.Write(ref _slots[slot], 0UL);
            Volatile.Write(ref _count, _count - 1);
            var end = _highWater;
            while (end > 0 && _slots[end - 1] == 0)
                end--;
            Volatile.Write(ref _highWater, end);
        }
    }

    /// <summary>
    /// The vif connects with <paramref name="control"/> sampled from the frontend. <paramref name="resumed"/>:
    /// the frontend was connected before (a daemon, or the vif's actors, starting again under it); the list
    /// is then kept if this filter served that connection, and otherwise lost (this daemon never saw the
    /// frontend build it): every multicast frame is accepted until the frontend connects anew.
    /// </summary>
    public void Connect(bool control, bool resumed)
    {
        lock (_writer)
        {
            if (resumed && !_connected)
            {
                _lost = true;
                _acceptsAll = true;
            }
            _connected = true;
            _control = control;
        }
    }

    /// <summary>Linux's <c>xenvif_mcast_addr_list_free</c> at disconnect, with control off until the next connect reads it.</summary>
    public void Reset()
    {
        lock (_writer)
        {
            _control = false;
            Array.Clear(_slots);
            Volatile.Write(ref _highWater, 0);
            Volatile.Write(ref _count, 0);
            _refused = 0;
            _lost = false;
            _acceptsAll = false;
            _connected = false;
        }
    }
}
