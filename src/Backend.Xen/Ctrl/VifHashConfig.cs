using Backend.Xen.Abi;
using Backend.Xen.Offload;

namespace Backend.Xen.Ctrl;

/// <summary>
/// What a frontend set over its control ring, as Linux netback's <c>struct xenvif_hash</c> holds it (hash.c):
/// the algorithm, the hash types, the 40-byte key and the mapping table from a hash to a queue. Immutable:
/// the ctrl ring's handler makes a new one for every change (the control path) and publishes it through
/// <see cref="VifHash"/>, and the data path reads whichever it finds, whole, without a lock or an allocation.
/// Linux's hash cache is not kept: a Toeplitz hash over at most 36 bytes costs less than the lookup.
/// </summary>
public sealed class VifHashConfig
{
    /// <summary>XEN_NETBK_MAX_HASH_KEY_SIZE.</summary>
    public const int MaxKeySize = 40;

    /// <summary>XEN_NETBK_MAX_HASH_MAPPING_SIZE: what GET_HASH_MAPPING_SIZE answers, and the largest table SET_HASH_MAPPING_SIZE takes.</summary>
    public const int MaxMappingSize = 128;

    /// <summary>The hash types netback calculates (what GET_HASH_FLAGS answers once an algorithm is chosen).</summary>
    public const uint SupportedFlags = NetifCtrlStatus.HashTypeIpv4 | NetifCtrlStatus.HashTypeIpv4Tcp
        | NetifCtrlStatus.HashTypeIpv6 | NetifCtrlStatus.HashTypeIpv6Tcp;

    private readonly byte[] _key;
    private readonly uint[] _mapping;

    /// <summary>A vif's state before its frontend says anything: algorithm NONE, no types, a zero key, no table.</summary>
    public static readonly VifHashConfig Initial = new(NetifCtrlStatus.HashAlgorithmNone, 0, new byte[MaxKeySize], []);

    /// <param name="key">Exactly <see cref="MaxKeySize"/> bytes; taken, not copied.</param>
    /// <param name="mapping">The table (its length is the mapping size); taken, not copied.</param>
    internal VifHashConfig(uint algorithm, uint flags, byte[] key, uint[] mapping)
    {
        if (key.Length != MaxKeySize)
            throw new ArgumentException($"a hash key is {MaxKeySize} bytes", nameof(key));
        if (mapping.Length > MaxMappingSize)
            throw new ArgumentException($"a mapping table has at most {MaxMappingSize} entries", nameof(mapping));
        Algorithm = algorithm;
        Flags = flags;
        _key = key;
        _mapping = mapping;
    }

    /// <summary>XEN_NETIF_CTRL_HASH_ALGORITHM_*.</summary>
    public uint Algorithm { get; }

    /// <summary>XEN_NETIF_CTRL_HASH_TYPE_* bits.</summary>
    public uint Flags { get; }

    public ReadOnlySpan<byte> Key => _key;

    /// <summary>The mapping table; empty when its size is 0 (the hash modulo the queues picks).</summary>
    public ReadOnlySpan<uint> Mapping => _mapping;

    /// <summary>
    /// Whether RX frames carry a hash extra: Toeplitz chosen and some type enabled. (Linux writes the extra
    /// when <c>xenvif_set_skb_hash</c> set a software hash, which needs both.)
    /// </summary>
    public bool Hashing => Algorithm == NetifCtrlStatus.HashAlgorithmToeplitz && Flags != 0;

    internal VifHashConfig With(uint? algorithm = null, uint? flags = null, byte[]? key = null, uint[]? mapping = null) =>
        new(algorithm ?? Algorithm, flags ?? Flags, key ?? _key, mapping ?? _mapping);

    /// <summary>
    /// Linux's <c>xenvif_set_skb_hash</c>: the Toeplitz hash of the frame's flow with the most specific type
    /// enabled, and that type's _XEN_NETIF_CTRL_HASH_TYPE_* number (what the RX hash extra's <c>type</c> says).
    /// False when hashing is off or no enabled type applies to the frame.
    /// </summary>
    public bool TryHashFrame(ReadOnlySpan<byte> frame, out uint hash, out byte hashType)
    {
        if (!Hashing)
        {
            hash = 0;
            hashType = 0;
            return false;
        }
        return Toeplitz.TryHashFrame(_key, frame, Flags, out hash, out hashType);
    }

    /// <summary>
    /// Linux's <c>xenvif_select_queue</c> for a frontend that chose an algorithm: the frame's hash (0 when no
    /// enabled type applies, as Linux's cleared hash reads), then the mapping table's entry for it, or the
    /// hash modulo the queues without a table. -1 when the algorithm is NONE: the backend then picks by its
    /// own flow hash, as Linux's <c>netdev_pick_tx</c> does.
    /// </summary>
    public int SelectQueue(ReadOnlySpan<byte> frame, int queues)
    {
        if (queues < 1)
            return 0;
        if (Algorithm == NetifCtrlStatus.HashAlgorithmNone)
            return -1;
        return MapQueue(TryHashFrame(frame, out var hash, out _) ? hash : 0, queues);
    }

    /// <summary>
    /// A hash's queue: <c>mapping[hash % size]</c>, or <c>hash % queues</c> with no table. Every entry was
    /// checked below the queues when it was set; one that is not (a connection with fewer queues than the
    /// table was set for) is taken modulo the queues rather than trusted.
    /// </summary>
    public int MapQueue(uint hash, int queues)
    {
        if (queues < 1)
            return 0;
        if (_mapping.Length == 0)
            return (int)(hash % (uint)queues);
        return (int)(_mapping[(int)(hash % (uint)_mapping.Length)] % (uint)queues);
    }

    /// <summary>"none" or "toeplitz", as the status shows it.</summary>
    public string AlgorithmName => Algorithm == NetifCtrlStatus.HashAlgorithmToeplitz ? "toeplitz" : "none";

    /// <summary>The enabled types, as the status shows them ("ipv4,ipv4-tcp,ipv6,ipv6-tcp").</summary>
    public string FlagNames
    {
        get
        {
            var parts = new List<string>(4);
            if ((Flags & NetifCtrlStatus.HashTypeIpv4) != 0) parts.Add("ipv4");
            if ((Flags & NetifCtrlStatus.HashTypeIpv4Tcp) != 0) parts.Add("ipv4-tcp");
            if ((Flags & NetifCtrlStatus.HashTypeIpv6) != 0) parts.Add("ipv6");
            if ((Flags & NetifCtrlStatus.HashTypeIpv6Tcp) != 0) parts.Add("ipv6-tcp");
            return string.Join(',', parts);
        }
    }
}
