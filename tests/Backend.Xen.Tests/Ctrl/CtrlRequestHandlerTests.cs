using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Backend.Xen.Abi;
using Backend.Xen.Ctrl;
using Backend.Xen.Grants;
using Backend.Xen.Tests.Netback;

namespace Backend.Xen.Tests.Ctrl;

/// <summary>
/// Every XEN_NETIF_CTRL_TYPE_* request as Linux netback's process_ctrl_request and hash.c answer it, the
/// copies run against the frontend's granted pages with the hypervisor's checks (<see cref="GuestPages"/>):
/// good values applied, hostile sizes, offsets and grant references refused with the status Linux gives,
/// and nothing changed by a refused request.
/// </summary>
public sealed unsafe class CtrlRequestHandlerTests : IDisposable
{
    private const ushort Frontend = 9;
    private const uint KeyGref = 20;
    private const uint MappingGref = 21;

    private readonly GuestPages _guest = new(Frontend);
    private readonly VifHash _hash = new();
    private readonly nint _scratch = (nint)NativeMemory.AllocZeroed(CtrlRequestHandler.ScratchSize);
    private readonly CtrlRequestHandler _handler;
    private ushort _nextId = 1;

    public CtrlRequestHandlerTests()
    {
        _handler = new CtrlRequestHandler(_hash, Frontend, queues: 4);
        Frames.RssKey.CopyTo(_guest.Grant(KeyGref), 0);
        _guest.Grant(MappingGref);
    }

    public void Dispose() => NativeMemory.Free((void*)_scratch);

    private VifHashConfig Config => _hash.Current;

    /// <summary>One request through both steps (and the copy, when it asks for one); its one response.</summary>
    private NetifCtrlResponse Serve(ushort type, uint data0 = 0, uint data1 = 0, uint data2 = 0)
    {
        var request = new NetifCtrlRequest { Id = _nextId++, Type = type, Data0 = data0, Data1 = data1, Data2 = data2 };
        NetifCtrlResponse response;
        if (_handler.Begin(request, _scratch, out var copy, out response))
        {
            Span<GrantCopySegment> segments = [copy];
            _guest.Copy(segments);
            response = _handler.Complete(request, segments[0], new ReadOnlySpan<byte>((void*)_scratch, CtrlRequestHandler.ScratchSize));
        }
        Assert.Equal(request.Id, response.Id);
        Assert.Equal(request.Type, response.Type);
        return response;
    }

    private void WriteMapping(params uint[] entries)
    {
        var page = _guest.Page(MappingGref);
        for (var i = 0; i < entries.Length; i++)
            BinaryPrimitives.WriteUInt32LittleEndian(page.AsSpan(i * 4), entries[i]);
    }

    private void Toeplitz() => Assert.Equal(NetifCtrlStatus.Success, Serve(NetifCtrlType.SetHashAlgorithm, NetifCtrlStatus.HashAlgorithmToeplitz).Status);

    [Fact]
    public void Set_hash_algorithm_takes_none_and_toeplitz_and_refuses_anything_else()
    {
        Assert.Equal(NetifCtrlStatus.Success, Serve(NetifCtrlType.SetHashAlgorithm, NetifCtrlStatus.HashAlgorithmToeplitz).Status);
        Assert.Equal(NetifCtrlStatus.HashAlgorithmToeplitz, Config.Algorithm);
        Assert.Equal(NetifCtrlStatus.InvalidParameter, Serve(NetifCtrlType.SetHashAlgorithm, 2).Status);
        Assert.Equal(NetifCtrlStatus.InvalidParameter, Serve(NetifCtrlType.SetHashAlgorithm, uint.MaxValue).Status);
        Assert.Equal(NetifCtrlStatus.HashAlgorithmToeplitz, Config.Algorithm);
        Assert.Equal(NetifCtrlStatus.Success, Serve(NetifCtrlType.SetHashAlgorithm, NetifCtrlStatus.HashAlgorithmNone).Status);
        Assert.Equal(NetifCtrlStatus.HashAlgorithmNone, Config.Algorithm);
    }

    [Fact]
    public void Get_hash_flags_is_not_supported_until_an_algorithm_is_chosen_then_answers_the_four_types()
    {
        var before = Serve(NetifCtrlType.GetHashFlags);
        Assert.Equal((NetifCtrlStatus.NotSupported, 0u), (before.Status, before.Data));
        Toeplitz();
        var after = Serve(NetifCtrlType.GetHashFlags);
        Assert.Equal((NetifCtrlStatus.Success, 0xFu), (after.Status, after.Data));
    }

    [Fact]
    public void Set_hash_flags_needs_an_algorithm_and_known_bits_only()
    {
        Assert.Equal(NetifCtrlStatus.InvalidParameter, Serve(NetifCtrlType.SetHashFlags, NetifCtrlStatus.HashTypeIpv4).Status);
        Assert.Equal(0u, Config.Flags);
        Toeplitz();
        Assert.Equal(NetifCtrlStatus.InvalidParameter, Serve(NetifCtrlType.SetHashFlags, 0x10).Status);
        Assert.Equal(NetifCtrlStatus.InvalidParameter, Serve(NetifCtrlType.SetHashFlags, 0x8000_0001).Status);
        Assert.Equal(0u, Config.Flags);
        Assert.Equal(NetifCtrlStatus.Success, Serve(NetifCtrlType.SetHashFlags, NetifCtrlStatus.HashTypeIpv4 | NetifCtrlStatus.HashTypeIpv6Tcp).Status);
        Assert.Equal(NetifCtrlStatus.HashTypeIpv4 | NetifCtrlStatus.HashTypeIpv6Tcp, Config.Flags);
        Assert.True(Config.Hashing);
        // Zero turns hashing off, as netif.h says.
        Assert.Equal(NetifCtrlStatus.Success, Serve(NetifCtrlType.SetHashFlags, 0).Status);
        Assert.False(Config.Hashing);
    }

    [Fact]
    public void Set_hash_key_copies_the_key_from_the_frontends_grant_and_zeroes_the_rest()
    {
        Assert.Equal(NetifCtrlStatus.Success, Serve(NetifCtrlType.SetHashKey, KeyGref, 40).Status);
        Assert.Equal(Frames.RssKey, Config.Key.ToArray());

        Assert.Equal(NetifCtrlStatus.Success, Serve(NetifCtrlType.SetHashKey, KeyGref, 16).Status);
        Assert.Equal([.. Frames.RssKey[..16], .. new byte[24]], Config.Key.ToArray());

        // Length 0 clears the key without touching the grant (any gref).
        Assert.Equal(NetifCtrlStatus.Success, Serve(NetifCtrlType.SetHashKey, 0xDEAD, 0).Status);
        Assert.Equal(new byte[40], Config.Key.ToArray());
    }

    [Theory]
    [InlineData(41u)]
    [InlineData(4096u)]
    [InlineData(uint.MaxValue)]
    public void Set_hash_key_longer_than_40_bytes_is_invalid_and_copies_nothing(uint length)
    {
        Assert.Equal(NetifCtrlStatus.Success, Serve(NetifCtrlType.SetHashKey, KeyGref, 40).Status);
        var copiesBefore = _guest.Copies;
        Assert.Equal(NetifCtrlStatus.InvalidParameter, Serve(NetifCtrlType.SetHashKey, KeyGref, length).Status);
        Assert.Equal(copiesBefore, _guest.Copies);
        Assert.Equal(Frames.RssKey, Config.Key.ToArray());
    }

    [Theory]
    [InlineData(0u)]      // reserved reference
    [InlineData(99u)]     // not granted
    [InlineData(8192u)]   // past the grant table
    [InlineData(uint.MaxValue)]
    public void Set_hash_key_from_a_bad_grant_is_invalid_and_leaves_the_key(uint gref)
    {
        Assert.Equal(NetifCtrlStatus.Success, Serve(NetifCtrlType.SetHashKey, KeyGref, 40).Status);
        Assert.Equal(NetifCtrlStatus.InvalidParameter, Serve(NetifCtrlType.SetHashKey, gref, 40).Status);
        Assert.Equal(Frames.RssKey, Config.Key.ToArray());
    }

    [Fact]
    public void Get_hash_mapping_size_answers_linuxs_maximum_whatever_the_state()
    {
        var response = Serve(NetifCtrlType.GetHashMappingSize);
        Assert.Equal((NetifCtrlStatus.Success, 128u), (response.Status, response.Data));
    }

    [Fact]
    public void Set_hash_mapping_size_up_to_128_makes_a_zeroed_table()
    {
        Assert.Equal(NetifCtrlStatus.Success, Serve(NetifCtrlType.SetHashMappingSize, 8).Status);
        WriteMapping(1, 2, 3);
        Assert.Equal(NetifCtrlStatus.Success, Serve(NetifCtrlType.SetHashMapping, MappingGref, 3, 0).Status);
        Assert.Equal(NetifCtrlStatus.Success, Serve(NetifCtrlType.SetHashMappingSize, 128).Status);
        Assert.Equal(new uint[128], Config.Mapping.ToArray());
        Assert.Equal(NetifCtrlStatus.Success, Serve(NetifCtrlType.SetHashMappingSize, 0).Status);
        Assert.Equal(0, Config.Mapping.Length);
    }

    [Theory]
    [InlineData(129u)]
    [InlineData(0x8000_0000u)]
    [InlineData(uint.MaxValue)]
    public void Set_hash_mapping_size_over_128_is_invalid(uint size)
    {
        Assert.Equal(NetifCtrlStatus.Success, Serve(NetifCtrlType.SetHashMappingSize, 4).Status);
        Assert.Equal(NetifCtrlStatus.InvalidParameter, Serve(NetifCtrlType.SetHashMappingSize, size).Status);
        Assert.Equal(4, Config.Mapping.Length);
    }

    [Fact]
    public void Set_hash_mapping_copies_a_run_of_entries_at_its_offset()
    {
        Assert.Equal(NetifCtrlStatus.Success, Serve(NetifCtrlType.SetHashMappingSize, 8).Status);
        WriteMapping(3, 2, 1);
        Assert.Equal(NetifCtrlStatus.Success, Serve(NetifCtrlType.SetHashMapping, MappingGref, 3, 4).Status);
        Assert.Equal(new uint[] { 0, 0, 0, 0, 3, 2, 1, 0 }, Config.Mapping.ToArray());
        // The last entry alone, and an empty run (nothing copied, nothing changed).
        WriteMapping(2);
        Assert.Equal(NetifCtrlStatus.Success, Serve(NetifCtrlType.SetHashMapping, MappingGref, 1, 7).Status);
        Assert.Equal(NetifCtrlStatus.Success, Serve(NetifCtrlType.SetHashMapping, 0xBAD, 0, 8).Status);
        Assert.Equal(new uint[] { 0, 0, 0, 0, 3, 2, 1, 2 }, Config.Mapping.ToArray());
    }

    [Theory]
    [InlineData(1u, 8u)]                  // offset at the end
    [InlineData(9u, 0u)]                  // longer than the table
    [InlineData(4u, 5u)]                  // runs past the end
    [InlineData(1u, uint.MaxValue)]       // offset + length wraps to 0
    [InlineData(2u, uint.MaxValue)]       // wraps to 1, inside the table
    [InlineData(uint.MaxValue, 1u)]       // wraps the other way
    [InlineData(1025u, 0u)]               // more than a page of entries
    [InlineData(0u, 9u)]                  // an empty run past the end
    public void Set_hash_mapping_with_a_hostile_length_or_offset_is_invalid_and_copies_nothing(uint length, uint offset)
    {
        Assert.Equal(NetifCtrlStatus.Success, Serve(NetifCtrlType.SetHashMappingSize, 8).Status);
        var copiesBefore = _guest.Copies;
        Assert.Equal(NetifCtrlStatus.InvalidParameter, Serve(NetifCtrlType.SetHashMapping, MappingGref, length, offset).Status);
        Assert.Equal(copiesBefore, _guest.Copies);
        Assert.Equal(new uint[8], Config.Mapping.ToArray());
    }

    [Fact]
    public void Set_hash_mapping_without_a_table_is_invalid()
    {
        WriteMapping(0);
        Assert.Equal(NetifCtrlStatus.InvalidParameter, Serve(NetifCtrlType.SetHashMapping, MappingGref, 1, 0).Status);
    }

    [Fact]
    public void Set_hash_mapping_with_an_entry_not_below_the_queues_is_invalid_and_changes_nothing()
    {
        Assert.Equal(NetifCtrlStatus.Success, Serve(NetifCtrlType.SetHashMappingSize, 4).Status);
        WriteMapping(1, 2, 3, 0);
        Assert.Equal(NetifCtrlStatus.Success, Serve(NetifCtrlType.SetHashMapping, MappingGref, 4, 0).Status);
        // The handler has 4 queues: 4 is one too many, and the good entries before it are not taken either.
        WriteMapping(0, 0, 4, 0);
        Assert.Equal(NetifCtrlStatus.InvalidParameter, Serve(NetifCtrlType.SetHashMapping, MappingGref, 4, 0).Status);
        WriteMapping(uint.MaxValue);
        Assert.Equal(NetifCtrlStatus.InvalidParameter, Serve(NetifCtrlType.SetHashMapping, MappingGref, 1, 3).Status);
        Assert.Equal(new uint[] { 1, 2, 3, 0 }, Config.Mapping.ToArray());
    }

    [Theory]
    [InlineData(0u)]
    [InlineData(99u)]
    [InlineData(8192u)]
    public void Set_hash_mapping_from_a_bad_grant_is_invalid(uint gref)
    {
        Assert.Equal(NetifCtrlStatus.Success, Serve(NetifCtrlType.SetHashMappingSize, 4).Status);
        Assert.Equal(NetifCtrlStatus.InvalidParameter, Serve(NetifCtrlType.SetHashMapping, gref, 4, 0).Status);
        Assert.Equal(new uint[4], Config.Mapping.ToArray());
    }

    [Theory]
    [InlineData(NetifCtrlType.Invalid)]
    [InlineData(NetifCtrlType.GetGrefMappingSize)]
    [InlineData(NetifCtrlType.AddGrefMapping)]
    [InlineData(NetifCtrlType.DelGrefMapping)]
    [InlineData((ushort)11)]
    [InlineData(ushort.MaxValue)]
    public void Other_types_are_not_supported(ushort type)
    {
        var response = Serve(type, KeyGref, 40, 0);
        Assert.Equal((NetifCtrlStatus.NotSupported, 0u), (response.Status, response.Data));
        Assert.Same(VifHashConfig.Initial, Config);
    }

    [Fact]
    public void A_configured_hash_picks_the_queue_of_its_mapping_entry_as_xenvif_select_queue()
    {
        // Algorithm NONE: the backend's own flow hash picks.
        Assert.Equal(-1, Config.SelectQueue(new byte[64], 4));
        Toeplitz();
        Assert.Equal(NetifCtrlStatus.Success, Serve(NetifCtrlType.SetHashKey, KeyGref, 40).Status);
        Assert.Equal(NetifCtrlStatus.Success, Serve(NetifCtrlType.SetHashFlags, NetifCtrlStatus.HashTypeIpv4Tcp).Status);
        var frame = Frames.Ipv4Tcp("66.9.149.187", 2794, "161.142.100.80", 1766);
        // No table: the hash (0x51ccc178, Microsoft's vector) modulo the queues.
        Assert.Equal((int)(0x51ccc178u % 3), Config.SelectQueue(frame, 3));
        Assert.Equal(NetifCtrlStatus.Success, Serve(NetifCtrlType.SetHashMappingSize, 16).Status);
        var entries = new uint[16];
        entries[0x51ccc178u % 16] = 3;
        WriteMapping(entries);
        Assert.Equal(NetifCtrlStatus.Success, Serve(NetifCtrlType.SetHashMapping, MappingGref, 16, 0).Status);
        Assert.Equal(3, Config.SelectQueue(frame, 4));
        // A frame no enabled type hashes has hash 0: entry 0.
        Assert.Equal(0, Config.SelectQueue(new byte[64], 4));
        Assert.Equal((int)entries[0x1234 % 16], Config.MapQueue(0x1234, 4));
    }
}
