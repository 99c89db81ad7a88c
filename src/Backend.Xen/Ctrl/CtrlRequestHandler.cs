using System.Buffers.Binary;
using Backend.Xen.Abi;
using Backend.Xen.Grants;

namespace Backend.Xen.Ctrl;

/// <summary>
/// Serves a vif's control ring requests as Linux netback's <c>process_ctrl_request</c> and hash.c do, on a
/// request already copied out of the ring once (the only copy read). Pure and in two steps, because two
/// requests need the frontend's memory: <see cref="Begin"/> answers a request at once, or plans the one grant
/// copy it needs (the key, or a run of the mapping table, from the frontend's grant into the caller's
/// scratch memory); the caller runs it and <see cref="Complete"/> validates what was copied (the private
/// copy, never the guest's page) and answers. Every request gets exactly one response; what Linux answers
/// NOT_SUPPORTED or INVALID_PARAMETER is answered so here, check for check:
/// <list type="bullet">
/// <item>SET_HASH_ALGORITHM: NONE or TOEPLITZ, else INVALID_PARAMETER (<c>xenvif_set_hash_alg</c>).</item>
/// <item>GET_HASH_FLAGS: NOT_SUPPORTED while the algorithm is NONE, else the four types.</item>
/// <item>SET_HASH_FLAGS: INVALID_PARAMETER for an unknown bit, or while the algorithm is NONE.</item>
/// <item>SET_HASH_KEY: INVALID_PARAMETER for a key over 40 bytes or a failed copy; the rest of the key is
/// zeroed; length 0 clears the key without a copy.</item>
/// <item>GET_HASH_MAPPING_SIZE: 128 (XEN_NETBK_MAX_HASH_MAPPING_SIZE).</item>
/// <item>SET_HASH_MAPPING_SIZE: INVALID_PARAMETER over 128; the table is zeroed.</item>
/// <item>SET_HASH_MAPPING: INVALID_PARAMETER when offset + length wraps or passes the size, for more than a
/// page of entries, a failed copy, or any entry not below the number of queues; the table is changed only
/// when every entry is good (Linux copies into the second table and swaps).</item>
/// <item>Anything else (INVALID, the GREF_MAPPING types, unknown): NOT_SUPPORTED.</item>
/// </list>
/// Used by one owner at a time (the ctrl ring's actor); publishes every change through <see cref="VifHash"/>.
/// </summary>
public sealed class CtrlRequestHandler
{
    /// <summary>Scratch memory a copy may fill: a whole mapping table of 32-bit entries (the key is shorter).</summary>
    public const int ScratchSize = VifHashConfig.MaxMappingSize * sizeof(uint);

    private readonly VifHash _hash;
    private readonly ushort _frontendDomId;

    /// <param name="hash">The vif's hash configuration, which the requests change.</param>
    /// <param name="frontendDomId">The frontend's domain: the granting side of every copy.</param>
    /// <param name="queues">The connection's queues (Linux's <c>vif->num_queues</c>): every mapping entry must be below it.</param>
    public CtrlRequestHandler(VifHash hash, ushort frontendDomId, int queues)
    {
        ArgumentNullException.ThrowIfNull(hash);
        ArgumentOutOfRangeException.ThrowIfLessThan(queues, 1);
        _hash = hash;
        _frontendDomId = frontendDomId;
        Queues = queues;
    }

    /// <summary>The connection's queues, against which SET_HASH_MAPPING checks every entry.</summary>
    public int Queues { get; set; }

    /// <summary>
    /// Answers <paramref name="request"/> (<paramref name="response"/>) and returns false, or plans its copy
    /// into <paramref name="copy"/> (destination <paramref name="scratch"/>, at least <see cref="ScratchSize"/>
    /// bytes that stay valid until the copy has run) and returns true: the caller runs it, then calls
    /// <see cref="Complete"/>.
    /// </summary>
    public bool Begin(in NetifCtrlRequest request, nint scratch, out GrantCopySegment copy, out NetifCtrlResponse response)
    {
        copy = default;
        var config = _hash.Current;
        uint status;
        uint data = 0;
        switch (request.Type)
        {
            case NetifCtrlType.SetHashAlgorithm:
                if (request.Data0 is NetifCtrlStatus.HashAlgorithmNone or NetifCtrlStatus.HashAlgorithmToeplitz)
                {
                    _hash.Publish(config.With(algorithm: request.Data0));
                    status = NetifCtrlStatus.Success;
                }
                else
                {
                    status = NetifCtrlStatus.InvalidParameter;
                }
                break;

            case NetifCtrlType.GetHashFlags:
                if (config.Algorithm == NetifCtrlStatus.HashAlgorithmNone)
                {
                    status = NetifCtrlStatus.NotSupported;
                }
                else
                {
                    status = NetifCtrlStatus.Success;
                    data = VifHashConfig.SupportedFlags;
                }
                break;

            case NetifCtrlType.SetHashFlags:
                if ((request.Data0 & ~VifHashConfig.SupportedFlags) != 0 || config.Algorithm == NetifCtrlStatus.HashAlgorithmNone)
                {
                    status = NetifCtrlStatus.InvalidParameter;
                }
                else
                {
                    _hash.Publish(config.With(flags: request.Data0));
                    status = NetifCtrlStatus.Success;
                }
                break;

            case NetifCtrlType.SetHashKey:
                // data[0] = gref, data[1] = length.
                if (request.Data1 > VifHashConfig.MaxKeySize)
                {
                    status = NetifCtrlStatus.InvalidParameter;
                }
                else if (request.Data1 == 0)
                {
                    _hash.Publish(config.With(key: new byte[VifHashConfig.MaxKeySize]));
                    status = NetifCtrlStatus.Success;
                }
                else
                {
                    copy = PlanCopy(request.Data0, request.Data1, scratch);
                    response = default;
                    return true;
                }
                break;

            case NetifCtrlType.GetHashMappingSize:
                status = NetifCtrlStatus.Success;
                data = VifHashConfig.MaxMappingSize;
                break;

            case NetifCtrlType.SetHashMappingSize:
                if (request.Data0 > VifHashConfig.MaxMappingSize)
                {
                    status = NetifCtrlStatus.InvalidParameter;
                }
                else
                {
                    _hash.Publish(config.With(mapping: new uint[request.Data0]));
                    status = NetifCtrlStatus.Success;
                }
                break;

            case NetifCtrlType.SetHashMapping:
                // data[0] = gref, data[1] = length (entries), data[2] = offset (entries).
                if (!MappingRunFits(request.Data1, request.Data2, config))
                {
                    status = NetifCtrlStatus.InvalidParameter;
                }
                else if (request.Data1 == 0)
                {
                    status = NetifCtrlStatus.Success;
                }
                else
                {
                    copy = PlanCopy(request.Data0, request.Data1 * sizeof(uint), scratch);
                    response = default;
                    return true;
                }
                break;

            default:
                status = NetifCtrlStatus.NotSupported;
                break;
        }
        response = Response(request, status, data);
        return false;
    }

    /// <summary>
    /// The answer to a request whose copy (planned by <see cref="Begin"/>) has run: a failed copy is
    /// INVALID_PARAMETER, as Linux answers it; otherwise the copied bytes in <paramref name="scratch"/> are
    /// checked and applied.
    /// </summary>
    public NetifCtrlResponse Complete(in NetifCtrlRequest request, in GrantCopySegment copy, ReadOnlySpan<byte> scratch)
    {
        if (copy.Status != GrantStatus.Okay)
            return Response(request, NetifCtrlStatus.InvalidParameter, 0);
        var config = _hash.Current;
        switch (request.Type)
        {
            case NetifCtrlType.SetHashKey:
            {
                var length = (int)request.Data1;
                var key = new byte[VifHashConfig.MaxKeySize];
                scratch[..length].CopyTo(key);
                _hash.Publish(config.With(key: key));
                return Response(request, NetifCtrlStatus.Success, 0);
            }
            case NetifCtrlType.SetHashMapping:
            {
                // The configuration is this handler's alone, so it has not changed since Begin; checked again anyway.
                if (!MappingRunFits(request.Data1, request.Data2, config))
                    return Response(request, NetifCtrlStatus.InvalidParameter, 0);
                var length = (int)request.Data1;
                var offset = (int)request.Data2;
                var mapping = config.Mapping.ToArray();
                for (var i = 0; i < length; i++)
                {
                    // The guest's u32s, in its (little-endian) byte order.
                    var queue = BinaryPrimitives.ReadUInt32LittleEndian(scratch.Slice(i * sizeof(uint), sizeof(uint)));
                    if (queue >= (uint)Queues)
                        return Response(request, NetifCtrlStatus.InvalidParameter, 0);
                    mapping[offset + i] = queue;
                }
                _hash.Publish(config.With(mapping: mapping));
                return Response(request, NetifCtrlStatus.Success, 0);
            }
            default:
                throw new InvalidOperationException($"ctrl request type {request.Type} has no copy to complete");
        }
    }

    /// <summary>
    /// Linux's check in <c>xenvif_set_hash_mapping</c>: <c>off + len</c> neither wraps nor passes the table's
    /// size, and the run is at most a page of entries.
    /// </summary>
    private static bool MappingRunFits(uint length, uint offset, VifHashConfig config) =>
        unchecked(offset + length) >= offset
        && offset + length <= (uint)config.Mapping.Length
        && length <= NetifConstants.PageSize / sizeof(uint);

    /// <summary>One copy from the frontend's grant (offset 0, as Linux's copy_op) into the scratch memory.</summary>
    private GrantCopySegment PlanCopy(uint gref, uint length, nint scratch) => new()
    {
        Source = GrantCopyPointer.Foreign(gref, _frontendDomId, 0),
        Dest = GrantCopyPointer.Local(scratch),
        Length = (ushort)length,
        Flags = GrantCopySegment.SourceGref,
    };

    private static NetifCtrlResponse Response(in NetifCtrlRequest request, uint status, uint data) =>
        new() { Id = request.Id, Type = request.Type, Status = status, Data = data };
}
