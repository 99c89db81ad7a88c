using System.Runtime.InteropServices;
using Backend.Xen.Grants;
using Backend.Xen.Platform.Sim;
using static Backend.Xen.Platform.Sim.SimGrantFlags;

namespace Backend.Xen.Tests.Sim;

public sealed class SimGrantMapperTests : IDisposable
{
    private const ushort Backend = 0;
    private const ushort Guest = 5;

    private readonly SimTestRoot _root = new();
    private readonly SimDomain _guest;
    private readonly SimForeignDomains _domains;
    private readonly SimGrantMapper _mapper;

    public SimGrantMapperTests()
    {
        _guest = SimDomain.CreateGuest(_root.Root, Guest, 8);
        _domains = new SimForeignDomains(_root.Root);
        _mapper = new SimGrantMapper(_domains, Backend);
    }

    private SimGranter Granter => _guest.Granter!;

    public void Dispose()
    {
        _domains.Dispose();
        _guest.Dispose();
        _root.Dispose();
    }

    private ushort InUse(uint gref) => (ushort)(Granter.ReadEntry(gref).Flags & (GTF_reading | GTF_writing));

    [Fact]
    public void Writable_map_shares_the_guest_page_and_holds_reading_and_writing_until_unmapped()
    {
        Granter.Grant(20, frame: 2, Backend, readOnly: false);
        var mapping = _mapper.Map(Guest, 20, writable: true);
        Assert.Equal(Guest, mapping.DomId);
        Assert.Equal(20u, mapping.Gref);
        Assert.Equal(GTF_reading | GTF_writing, InUse(20));

        Marshal.WriteByte(mapping.Address, 7, 0x77);
        Assert.Equal(0x77, _guest.Page(2)[7]);
        _guest.Page(2)[4095] = 0x42;
        Assert.Equal(0x42, Marshal.ReadByte(mapping.Address, 4095));
        Assert.False(Granter.EndAccess(20), "the guest must not end access to a mapped ring page");

        mapping.Dispose();
        Assert.Equal(0, InUse(20));
        mapping.Dispose();
        Assert.Equal(0, InUse(20));
        Assert.True(Granter.EndAccess(20));
    }

    [Fact]
    public void Readonly_map_holds_only_reading()
    {
        Granter.Grant(21, frame: 2, Backend, readOnly: true);
        using (var mapping = _mapper.Map(Guest, 21, writable: false))
        {
            _guest.Page(2)[0] = 9;
            Assert.Equal(9, Marshal.ReadByte(mapping.Address));
            Assert.Equal(GTF_reading, InUse(21));
        }
        Assert.Equal(0, InUse(21));
    }

    [Fact]
    public void A_copy_through_a_mapped_reference_leaves_the_map_bits_set()
    {
        Granter.Grant(20, frame: 2, Backend, readOnly: false);
        using var mapping = _mapper.Map(Guest, 20, writable: true);
        var copier = new SimGrantCopier(_domains, Backend);
        using var local = new LocalBuffer(64);
        Assert.Equal(GrantStatus.Okay, copier.Status(GrantCopies.ToGrant(local.Address, Guest, 20, 0, 64)));
        Assert.Equal(GTF_reading | GTF_writing, InUse(20));
    }

    [Fact]
    public void Map_re_attaches_although_a_crashed_backend_left_the_bits_set_and_its_unmap_clears_them()
    {
        Granter.Grant(21, frame: 2, Backend, readOnly: false);
        // A previous backend process mapped it and died: its bits are still in the entry.
        using (var previous = new SimForeignDomains(_root.Root))
        {
            var crashed = new SimGrantMapper(previous, Backend).Map(Guest, 21, writable: true);
            GC.KeepAlive(crashed);
        }
        Assert.Equal(GTF_reading | GTF_writing, InUse(21));

        var mapping = _mapper.Map(Guest, 21, writable: true);
        Assert.Equal(GTF_reading | GTF_writing, InUse(21));
        mapping.Dispose();
        Assert.Equal(0, InUse(21));
    }

    [Fact]
    public void Map_refuses_with_the_grant_status_of_the_failed_check()
    {
        Granter.Grant(10, frame: 2, Backend, readOnly: true);
        Granter.Grant(11, frame: 2, 7, readOnly: false);
        Granter.Grant(12, frame: 8, Backend, readOnly: false);
        Assert.Equal(GrantStatus.BadDomain, Assert.Throws<GrantException>(() => _mapper.Map(6, 10, writable: false)).Status);
        Assert.Equal(GrantStatus.BadGntref, Assert.Throws<GrantException>(() => _mapper.Map(Guest, 8192, writable: false)).Status);
        Assert.Equal(GrantStatus.GeneralError, Assert.Throws<GrantException>(() => _mapper.Map(Guest, 10, writable: true)).Status);
        Assert.Equal(GrantStatus.GeneralError, Assert.Throws<GrantException>(() => _mapper.Map(Guest, 11, writable: false)).Status);
        Assert.Equal(GrantStatus.GeneralError, Assert.Throws<GrantException>(() => _mapper.Map(Guest, 13, writable: false)).Status);
        Assert.Equal(GrantStatus.BadPage, Assert.Throws<GrantException>(() => _mapper.Map(Guest, 12, writable: false)).Status);
        Assert.Equal(0, InUse(10));
        Assert.Equal(0, InUse(12));
    }

    [Fact]
    public void A_mapping_outlives_its_guest_restarting_and_releases_only_its_own_table()
    {
        using var first = SimDomain.CreateGuest(_root.Root, 9, 2);
        first.Granter!.Grant(30, frame: 1, Backend, readOnly: false);
        var old = _mapper.Map(9, 30, writable: true);
        first.Dispose();
        using var second = SimDomain.CreateGuest(_root.Root, 9, 2);
        second.Granter!.Grant(30, frame: 1, Backend, readOnly: false);
        using var fresh = _mapper.Map(9, 30, writable: true);
        Marshal.WriteByte(old.Address, 0, 1);
        Assert.Equal(0, second.Page(1)[0]);
        old.Dispose();
        Assert.Equal(GTF_reading | GTF_writing, second.Granter.ReadEntry(30).Flags & (GTF_reading | GTF_writing));
    }

    [Fact]
    public void A_guest_s_files_stay_mapped_while_a_user_holds_them_and_are_unmapped_by_the_last()
    {
        var table = Path.Combine(_root.Root.DomainDirectory(Guest), SimRoot.GrantTableFile);
        var ours = ProcessMaps.Count(table); // the guest's own, in this process
        Granter.Grant(20, frame: 2, Backend, readOnly: false);
        Granter.Grant(21, frame: 3, Backend, readOnly: false);
        var tx = _mapper.Map(Guest, 20, writable: true);
        var rx = _mapper.Map(Guest, 21, writable: true);
        var copying = _domains.Acquire(Guest)!;
        Assert.Equal(ours + 1, ProcessMaps.Count(table));

        // A copy in flight outlives both ring mappings, and the files stay until it is done.
        tx.Dispose();
        rx.Dispose();
        Assert.Equal(ours + 1, ProcessMaps.Count(table));
        copying.Release();
        Assert.Equal(ours, ProcessMaps.Count(table));

        // The next user opens them again.
        using var again = _mapper.Map(Guest, 20, writable: true);
        Assert.Equal(ours + 1, ProcessMaps.Count(table));
    }
}
