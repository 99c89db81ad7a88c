using Backend.Xen.Platform.Sim;
using static Backend.Xen.Platform.Sim.SimGrantFlags;
using Backend.Xen.Platform.Native;

namespace Backend.Xen.Tests.Sim;

[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class SimDomainTests : IDisposable
{
    private const UnixFileMode Mode0600 = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    private readonly SimTestRoot _root = new();

    public void Dispose() => _root.Dispose();

    [Fact]
    public void Root_longer_than_79_characters_is_refused_and_a_missing_root_is_created()
    {
        var tooLong = "/dev/shm/" + new string('r', 71);
        Assert.Equal(80, tooLong.Length);
        var e = Assert.Throws<ArgumentException>(() => new SimRoot(tooLong));
        Assert.Contains("79", e.Message);
        Assert.False(Directory.Exists(tooLong));

        var nested = Path.Combine(_root.Root.Path, "a", "b");
        var root = new SimRoot(nested);
        Assert.True(Directory.Exists(nested));
        Assert.Equal(Path.Combine(nested, "dom3"), root.DomainDirectory(3));
    }

    [Fact]
    public void Guest_creates_memory_and_grant_table_of_the_contract_sizes_with_mode_0600()
    {
        using var guest = SimDomain.CreateGuest(_root.Root, 4, 16);
        var dir = _root.Root.DomainDirectory(4);
        Assert.Equal(16 * 4096, new FileInfo(Path.Combine(dir, "memory")).Length);
        Assert.Equal(8192 * 8, new FileInfo(Path.Combine(dir, "grant-table")).Length);
        Assert.Equal(4096 * 8, new FileInfo(Path.Combine(dir, "evtchn-peers")).Length);
        Assert.Equal(64 * 8, new FileInfo(Path.Combine(dir, "evtchn-pending")).Length);
        foreach (var file in new[] { "memory", "grant-table", "evtchn-peers", "evtchn-pending", "evtchn" })
            Assert.True(File.GetUnixFileMode(Path.Combine(dir, file)) == Mode0600, $"{file} should have mode 0600, has {File.GetUnixFileMode(Path.Combine(dir, file))}");
        Assert.Equal(16, guest.MemoryPages);
    }

    [Fact]
    public void Backend_domain_has_no_memory_and_no_grant_table()
    {
        using var backend = SimDomain.CreateBackend(_root.Root, 0);
        var dir = _root.Root.DomainDirectory(0);
        Assert.False(File.Exists(Path.Combine(dir, "memory")));
        Assert.False(File.Exists(Path.Combine(dir, "grant-table")));
        Assert.True(File.Exists(Path.Combine(dir, "evtchn-peers")));
        Assert.Null(backend.Granter);
        Assert.Throws<InvalidOperationException>(() => backend.Page(0));
    }

    [Fact]
    public void Restarted_domain_keeps_its_event_channel_files_replaces_memory_and_clears_pending_once()
    {
        var dir = _root.Root.DomainDirectory(4);
        var first = SimDomain.CreateGuest(_root.Root, 4, 2);
        first.Page(0)[0] = 1;
        first.Granter!.Grant(8, 0, 0, readOnly: false);
        var peersInode = Inode(Path.Combine(dir, "evtchn-peers"));
        var pendingInode = Inode(Path.Combine(dir, "evtchn-pending"));
        var memoryInode = Inode(Path.Combine(dir, "memory"));
        first.Dispose();

        // Left by the previous instance: a binding entry and a pending bit (a notify while it was down).
        using (var stale = File.OpenWrite(Path.Combine(dir, "evtchn-peers")))
        {
            stale.Position = 33 * 8;
            stale.Write(BitConverter.GetBytes(SimEventChannelEntry.Interdomain(0, 7).Pack()));
        }
        using (var stale = File.OpenWrite(Path.Combine(dir, "evtchn-pending")))
            stale.Write(BitConverter.GetBytes(ulong.MaxValue));

        using var second = SimDomain.CreateGuest(_root.Root, 4, 2);
        Assert.Equal(peersInode, Inode(Path.Combine(dir, "evtchn-peers")));
        Assert.Equal(pendingInode, Inode(Path.Combine(dir, "evtchn-pending")));
        Assert.NotEqual(memoryInode, Inode(Path.Combine(dir, "memory")));
        Assert.Equal(SimEventChannelEntry.Interdomain(0, 7), second.ReadEventChannelEntry(33));
        Assert.False(second.IsPending(1), "the pending words should be cleared once at start");
        Assert.Equal(0, second.Page(0)[0]);
        Assert.Equal(0, second.Granter!.ReadEntry(8).Flags);
    }

    [Fact]
    public void Remove_deletes_the_domain_directory()
    {
        var guest = SimDomain.CreateGuest(_root.Root, 4, 2);
        guest.Remove();
        Assert.False(Directory.Exists(_root.Root.DomainDirectory(4)));
    }

    [Fact]
    public void Granter_hands_out_references_8_and_up_until_they_run_out()
    {
        using var guest = SimDomain.CreateGuest(_root.Root, 4, 2);
        var granter = guest.Granter!;
        var seen = new HashSet<uint>();
        for (var i = 0; i < 8192 - 8; i++)
        {
            var gref = granter.AllocateReference();
            Assert.InRange(gref, 8u, 8191u);
            Assert.True(seen.Add(gref), $"reference {gref} handed out twice");
        }
        Assert.Throws<InvalidOperationException>(() => granter.AllocateReference());
        granter.FreeReference(100);
        Assert.Equal(100u, granter.AllocateReference());
        Assert.Throws<ArgumentOutOfRangeException>(() => granter.Grant(7, 0, 0, readOnly: false));
    }

    [Fact]
    public void Grant_writes_frame_domid_and_flags_and_end_access_refuses_while_in_use()
    {
        using var guest = SimDomain.CreateGuest(_root.Root, 4, 2);
        var granter = guest.Granter!;
        granter.Grant(9, frame: 1, domid: 3, readOnly: true);
        Assert.Equal(((ushort)(GTF_permit_access | GTF_readonly), (ushort)3, 1u), granter.ReadEntry(9));
        var bytes = File.ReadAllBytes(Path.Combine(_root.Root.DomainDirectory(4), "grant-table"));
        Assert.Equal([5, 0, 3, 0, 1, 0, 0, 0], bytes[(9 * 8)..(10 * 8)]);

        using (var domains = new SimForeignDomains(_root.Root))
        {
            var domain = domains.Acquire(4)!;
            Assert.Equal(0, domain.Claim(9, 3, write: false, out _));
            Assert.False(granter.EndAccess(9));
            domain.Unclaim(9, write: false);
            domain.Release();
        }
        Assert.True(granter.EndAccess(9));
        Assert.Equal(0, granter.ReadEntry(9).Flags);
        Assert.Equal((ushort)3, granter.ReadEntry(9).DomId);
    }

    [Fact]
    public void Pins_are_counted_per_reference_across_chunks_and_the_last_user_clears_the_bits()
    {
        using var guest = SimDomain.CreateGuest(_root.Root, 4, 2);
        var granter = guest.Granter!;
        // 63 and 64 lie on either side of a chunk boundary of the pin counts, 8191 in the last chunk.
        foreach (var gref in new uint[] { 63, 64, 8191 })
            granter.Grant(gref, frame: 1, domid: 3, readOnly: false);
        const ushort reading = GTF_permit_access | GTF_reading;
        const ushort writing = GTF_permit_access | GTF_reading | GTF_writing;

        using var domains = new SimForeignDomains(_root.Root);
        var domain = domains.Acquire(4)!;
        Assert.Equal(0, domain.Claim(63, 3, write: true, out _));
        Assert.Equal(0, domain.Claim(63, 3, write: false, out _));
        Assert.Equal(0, domain.Claim(64, 3, write: true, out _));
        Assert.Equal(0, domain.Claim(8191, 3, write: false, out _));

        domain.Unclaim(64, write: true);
        Assert.Equal(GTF_permit_access, granter.ReadEntry(64).Flags);
        Assert.Equal(writing, granter.ReadEntry(63).Flags);
        domain.Unclaim(63, write: true);
        Assert.Equal(reading, granter.ReadEntry(63).Flags);
        domain.Unclaim(63, write: false);
        Assert.Equal(GTF_permit_access, granter.ReadEntry(63).Flags);
        Assert.Equal(reading, granter.ReadEntry(8191).Flags);
        domain.Unclaim(8191, write: false);
        Assert.Equal(GTF_permit_access, granter.ReadEntry(8191).Flags);
        domain.Release();
    }

    private static ulong Inode(string path)
    {
        var bytes = System.Text.Encoding.UTF8.GetBytes(path + "\0");
        Assert.True(FilePath.TryStat(bytes, out var identity), $"{path} should exist");
        return identity.Inode;
    }
}
