using Backend.Xen.Abi;
using Backend.Xen.Grants;
using Backend.Xen.Platform.Sim;
using static Backend.Xen.Platform.Sim.SimGrantFlags;

namespace Backend.Xen.Tests.Sim;

public sealed class SimGrantCopierTests : IDisposable
{
    private const ushort Backend = 0;
    private const ushort Guest = 5;
    private const ushort Missing = 6;

    private readonly SimTestRoot _root = new();
    private readonly SimDomain _guest;
    private readonly SimForeignDomains _domains;
    private readonly SimGrantCopier _copier;
    private readonly LocalBuffer _local = new(8192);

    public SimGrantCopierTests()
    {
        _guest = SimDomain.CreateGuest(_root.Root, Guest, 16);
        _domains = new SimForeignDomains(_root.Root);
        _copier = new SimGrantCopier(_domains, Backend);
        _guest.Page(3).Fill(0xab);
    }

    private SimGranter Granter => _guest.Granter!;

    public void Dispose()
    {
        _domains.Dispose();
        _guest.Dispose();
        _local.Dispose();
        _root.Dispose();
    }

    private ushort InUse(uint gref) => (ushort)(Granter.ReadEntry(gref).Flags & (GTF_reading | GTF_writing));

    [Fact]
    public void Copy_from_a_readonly_grant_reads_the_page_and_leaves_no_in_use_bits()
    {
        Granter.Grant(10, frame: 3, Backend, readOnly: true);
        Assert.Equal(GrantStatus.Okay, _copier.Status(GrantCopies.FromGrant(Guest, 10, 100, _local.Address, 200)));
        Assert.True(_local.Span[..200].IndexOfAnyExcept((byte)0xab) < 0, "the 200 copied bytes should all be the guest's 0xab");
        Assert.Equal(0, _local.Span[200]);
        Assert.Equal(0, InUse(10));
    }

    [Fact]
    public void Copy_to_a_writable_grant_writes_the_page_at_its_offset()
    {
        Granter.Grant(14, frame: 4, Backend, readOnly: false);
        _local.Span.Fill(0x5a);
        Assert.Equal(GrantStatus.Okay, _copier.Status(GrantCopies.ToGrant(_local.Address, Guest, 14, 100, 200)));
        var page = _guest.Page(4);
        Assert.Equal(0, page[99]);
        Assert.Equal(0x5a, page[100]);
        Assert.Equal(0x5a, page[299]);
        Assert.Equal(0, page[300]);
        Assert.Equal(0, InUse(14));
    }

    [Fact]
    public void Writing_through_a_readonly_grant_is_general_error()
    {
        Granter.Grant(10, frame: 3, Backend, readOnly: true);
        Assert.Equal(GrantStatus.GeneralError, _copier.Status(GrantCopies.ToGrant(_local.Address, Guest, 10, 0, 10)));
        Assert.Equal(0xab, _guest.Page(3)[0]);
    }

    [Fact]
    public void Readonly_destination_of_a_guest_to_guest_copy_is_general_error()
    {
        Granter.Grant(10, frame: 3, Backend, readOnly: true);
        Granter.Grant(11, frame: 4, Backend, readOnly: true);
        Assert.Equal(GrantStatus.GeneralError, _copier.Status(GrantCopies.GrantToGrant(Guest, 10, 0, Guest, 11, 0, 10)));
        Assert.Equal(0, _guest.Page(4)[0]);
        Assert.Equal(0, InUse(10));
    }

    [Theory]
    [InlineData(8192u)]
    [InlineData(uint.MaxValue)]
    public void Reference_beyond_the_table_is_bad_gntref(uint gref) =>
        Assert.Equal(GrantStatus.BadGntref, _copier.Status(GrantCopies.FromGrant(Guest, gref, 0, _local.Address, 10)));

    [Fact]
    public void Domain_without_a_grant_table_is_bad_domain_even_before_bad_gntref()
    {
        Assert.Equal(GrantStatus.BadDomain, _copier.Status(GrantCopies.FromGrant(Missing, 10, 0, _local.Address, 10)));
        Assert.Equal(GrantStatus.BadDomain, _copier.Status(GrantCopies.FromGrant(Missing, 9000, 0, _local.Address, 10)));
        Assert.Equal(GrantStatus.BadDomain, _copier.Status(GrantCopies.FromGrant(DomId.Self, 10, 0, _local.Address, 10)));
    }

    [Fact]
    public void Both_domains_are_checked_before_any_grant_entry()
    {
        // The source entry is bad in every way, the destination domain is missing: bad_domain wins.
        Granter.Grant(13, frame: 99, 7, readOnly: true);
        Assert.Equal(GrantStatus.BadDomain, _copier.Status(GrantCopies.GrantToGrant(Guest, 9000, 0, Missing, 10, 0, 10)));
        Assert.Equal(GrantStatus.BadDomain, _copier.Status(GrantCopies.GrantToGrant(Guest, 13, 4000, Missing, 10, 0, 200)));
        Assert.Equal(0, InUse(13));
    }

    [Theory]
    [InlineData(GTF_invalid, Backend, false)]
    [InlineData(GTF_permit_access, (ushort)7, false)]
    [InlineData((ushort)2 /* GTF_accept_transfer */, Backend, false)]
    [InlineData((ushort)3 /* GTF_transfer_completed */, Backend, false)]
    [InlineData((ushort)(GTF_permit_access | GTF_readonly), Backend, true)]
    public void Entry_not_granting_this_access_is_general_error(ushort flags, ushort domid, bool write)
    {
        Granter.Grant(12, frame: 3, domid, readOnly: false);
        SetFlags(12, flags);
        var segment = write ? GrantCopies.ToGrant(_local.Address, Guest, 12, 0, 10) : GrantCopies.FromGrant(Guest, 12, 0, _local.Address, 10);
        Assert.Equal(GrantStatus.GeneralError, _copier.Status(segment));
        Assert.Equal(flags, Granter.ReadEntry(12).Flags);
    }

    [Fact]
    public void Frame_outside_the_memory_file_is_bad_page_and_comes_before_bad_copy_arg()
    {
        Granter.Grant(13, frame: 16, Backend, readOnly: false);
        Assert.Equal(GrantStatus.BadPage, _copier.Status(GrantCopies.FromGrant(Guest, 13, 0, _local.Address, 10)));
        Assert.Equal(GrantStatus.BadPage, _copier.Status(GrantCopies.FromGrant(Guest, 13, 4000, _local.Address, 200)));
        Granter.Grant(13, frame: uint.MaxValue, Backend, readOnly: false);
        Assert.Equal(GrantStatus.BadPage, _copier.Status(GrantCopies.ToGrant(_local.Address, Guest, 13, 0, 10)));
        Assert.Equal(0, InUse(13));
    }

    [Fact]
    public void Offset_plus_length_over_a_page_is_bad_copy_arg_checked_last()
    {
        Granter.Grant(10, frame: 3, Backend, readOnly: false);
        Granter.Grant(12, frame: 3, 7, readOnly: false);
        Assert.Equal(GrantStatus.BadCopyArg, _copier.Status(GrantCopies.FromGrant(Guest, 10, 4000, _local.Address, 97)));
        Assert.Equal(GrantStatus.BadCopyArg, _copier.Status(GrantCopies.ToGrant(_local.Address, Guest, 10, 1, 4096)));
        Assert.Equal(GrantStatus.Okay, _copier.Status(GrantCopies.FromGrant(Guest, 10, 4000, _local.Address, 96)));
        Assert.Equal(GrantStatus.GeneralError, _copier.Status(GrantCopies.FromGrant(Guest, 12, 4000, _local.Address, 200)));
        Assert.Equal(GrantStatus.BadGntref, _copier.Status(GrantCopies.FromGrant(Guest, 8192, 4000, _local.Address, 200)));
        Assert.Equal(0, InUse(10));
    }

    [Fact]
    public void Local_side_naming_a_foreign_domain_is_permission_denied_before_everything_else()
    {
        Granter.Grant(10, frame: 3, Backend, readOnly: true);
        Granter.Grant(13, frame: 99, Backend, readOnly: true);
        Span<GrantCopySegment> one = [GrantCopies.FromGrant(Guest, 10, 0, _local.Address, 10)];
        _copier.Copy(one, localDomId: 7);
        Assert.Equal(GrantStatus.PermissionDenied, one[0].Status);
        _copier.Copy(one, localDomId: Backend);
        Assert.Equal(GrantStatus.Okay, one[0].Status);
        _copier.Copy(one, localDomId: DomId.Self);
        Assert.Equal(GrantStatus.Okay, one[0].Status);

        foreach (var (gref, what) in new[] { (9000u, "bad_gntref"), (11u, "general_error"), (13u, "bad_page") })
        {
            one[0] = GrantCopies.FromGrant(Guest, gref, 0, _local.Address, 10);
            _copier.Copy(one, localDomId: 7);
            Assert.True(one[0].Status == GrantStatus.PermissionDenied, $"permission_denied should come before {what}, got {one[0].Status}");
        }

        // Source first: a local source naming a foreign domain before a missing destination domain ...
        one[0] = GrantCopies.ToGrant(_local.Address, Missing, 10, 0, 10);
        _copier.Copy(one, localDomId: 7);
        Assert.Equal(GrantStatus.PermissionDenied, one[0].Status);
        _copier.Copy(one, localDomId: DomId.Self);
        Assert.Equal(GrantStatus.BadDomain, one[0].Status);
        // ... and a missing source domain before a local destination naming a foreign domain.
        one[0] = GrantCopies.FromGrant(Missing, 10, 0, _local.Address, 10);
        _copier.Copy(one, localDomId: 7);
        Assert.Equal(GrantStatus.BadDomain, one[0].Status);
    }

    [Fact]
    public void Guest_to_guest_copy_moves_bytes_between_two_guests()
    {
        using var other = SimDomain.CreateGuest(_root.Root, 7, 4);
        other.Granter!.Grant(8, frame: 1, Backend, readOnly: false);
        Granter.Grant(15, frame: 3, Backend, readOnly: true);
        Assert.Equal(GrantStatus.Okay, _copier.Status(GrantCopies.GrantToGrant(Guest, 15, 0, 7, 8, 8, 64)));
        Assert.Equal(0, other.Page(1)[7]);
        Assert.Equal(0xab, other.Page(1)[8]);
        Assert.Equal(0xab, other.Page(1)[71]);
        Assert.Equal(0, other.Page(1)[72]);
        Assert.Equal(0, InUse(15));
        Assert.Equal(0, other.Granter.ReadEntry(8).Flags & (GTF_reading | GTF_writing));
    }

    [Fact]
    public void Each_segment_of_a_batch_gets_its_own_status()
    {
        Granter.Grant(10, frame: 3, Backend, readOnly: true);
        Granter.Grant(14, frame: 4, Backend, readOnly: false);
        Span<GrantCopySegment> batch =
        [
            GrantCopies.FromGrant(Guest, 10, 0, _local.Address, 10),
            GrantCopies.ToGrant(_local.Address, Guest, 10, 0, 10),
            GrantCopies.FromGrant(Missing, 10, 0, _local.Address, 10),
            GrantCopies.ToGrant(_local.Address, Guest, 14, 0, 10),
            GrantCopies.FromGrant(Guest, 8192, 0, _local.Address, 10),
        ];
        _copier.Copy(batch);
        Assert.Equal(
            [GrantStatus.Okay, GrantStatus.GeneralError, GrantStatus.BadDomain, GrantStatus.Okay, GrantStatus.BadGntref],
            batch.ToArray().Select(s => s.Status));
        Assert.Equal(0xab, _guest.Page(4)[9]);
    }

    [Fact]
    public void Source_holds_GTF_reading_while_the_destination_is_pinned_and_both_are_cleared_after()
    {
        Granter.Grant(10, frame: 3, Backend, readOnly: true);
        Granter.Grant(14, frame: 4, Backend, readOnly: false);
        var watch = new WatchingSource(Granter, 10);
        Span<GrantCopySegment> one = [GrantCopies.GrantToGrant(Guest, 10, 0, Guest, 14, 0, 10)];
        _copier.Copy(one, DomId.Self, ref watch);
        Assert.Equal(GrantStatus.Okay, one[0].Status);
        Assert.Equal(2, watch.Calls);
        Assert.Equal(GTF_permit_access | GTF_readonly | GTF_reading, watch.FlagsSeen);
        Assert.Equal(0, InUse(10));
        Assert.Equal(0, InUse(14));
    }

    [Fact]
    public void Pin_gives_up_with_general_error_after_five_changes_under_it()
    {
        Granter.Grant(10, frame: 3, Backend, readOnly: true);
        var flipping = new FlippingEntry(times: int.MaxValue, bits: 0x0100);
        Span<GrantCopySegment> one = [GrantCopies.FromGrant(Guest, 10, 0, _local.Address, 10)];
        _copier.Copy(one, DomId.Self, ref flipping);
        Assert.Equal(GrantStatus.GeneralError, one[0].Status);
        Assert.Equal(SimGrantTable.MaxPinAttempts, flipping.Attempts);
        Assert.Equal(0, InUse(10));
    }

    [Fact]
    public void Pin_succeeds_at_the_fifth_attempt_when_the_entry_settles()
    {
        Granter.Grant(10, frame: 3, Backend, readOnly: true);
        var flipping = new FlippingEntry(times: 4, bits: 0x0100);
        Span<GrantCopySegment> one = [GrantCopies.FromGrant(Guest, 10, 0, _local.Address, 10)];
        _copier.Copy(one, DomId.Self, ref flipping);
        Assert.Equal(GrantStatus.Okay, one[0].Status);
        Assert.Equal(5, flipping.Attempts);
        Assert.Equal(0xab, _local.Span[0]);
    }

    [Fact]
    public void Entry_regranted_to_another_domain_under_the_pin_is_general_error_at_the_recheck()
    {
        Granter.Grant(10, frame: 3, Backend, readOnly: true);
        var flipping = new FlippingEntry(times: 1, bits: 7u << 16);
        Span<GrantCopySegment> one = [GrantCopies.FromGrant(Guest, 10, 0, _local.Address, 10)];
        _copier.Copy(one, DomId.Self, ref flipping);
        Assert.Equal(GrantStatus.GeneralError, one[0].Status);
        Assert.Equal(1, flipping.Attempts);
        Assert.Equal((ushort)7, Granter.ReadEntry(10).DomId);
        Assert.Equal(0, InUse(10));
    }

    [Fact]
    public void Copy_after_end_access_is_general_error()
    {
        Granter.Grant(14, frame: 4, Backend, readOnly: false);
        Assert.True(Granter.EndAccess(14));
        Assert.Equal(0, Granter.ReadEntry(14).Flags);
        Assert.Equal(GrantStatus.GeneralError, _copier.Status(GrantCopies.FromGrant(Guest, 14, 0, _local.Address, 10)));
    }

    [Fact]
    public void Our_pin_counts_keep_the_bits_until_the_last_user_of_a_reference_lets_go()
    {
        Granter.Grant(14, frame: 4, Backend, readOnly: false);
        var domain = _domains.Acquire(Guest)!;
        try
        {
            Assert.Equal(GrantStatus.Okay, domain.Claim(14, Backend, write: true, out _));
            Assert.Equal(GrantStatus.Okay, domain.Claim(14, Backend, write: false, out _));
            Assert.Equal(GTF_reading | GTF_writing, InUse(14));
            Assert.False(Granter.EndAccess(14), "the guest must not end access while we copy");
            domain.Unclaim(14, write: false);
            Assert.Equal(GTF_reading | GTF_writing, InUse(14));
            // A copier on another thread pins and releases the same reference meanwhile.
            Assert.Equal(GrantStatus.Okay, _copier.Status(GrantCopies.FromGrant(Guest, 14, 0, _local.Address, 10)));
            Assert.Equal(GTF_reading | GTF_writing, InUse(14));
            domain.Unclaim(14, write: true);
            Assert.Equal(0, InUse(14));
            Assert.True(Granter.EndAccess(14));
        }
        finally
        {
            domain.Release();
        }
    }

    [Fact]
    public async Task Copiers_on_two_threads_pinning_one_reference_leave_no_bits_behind()
    {
        Granter.Grant(14, frame: 4, Backend, readOnly: false);
        Granter.Grant(15, frame: 5, Backend, readOnly: true);
        var statuses = await Task.WhenAll(Enumerable.Range(0, 2).Select(_ => Task.Run(() =>
        {
            var copier = new SimGrantCopier(_domains, Backend);
            using var local = new LocalBuffer(64);
            Span<GrantCopySegment> batch =
            [
                GrantCopies.ToGrant(local.Address, Guest, 14, 0, 64),
                GrantCopies.FromGrant(Guest, 14, 64, local.Address, 64),
                GrantCopies.GrantToGrant(Guest, 15, 0, Guest, 14, 128, 64),
            ];
            var worst = GrantStatus.Okay;
            for (var i = 0; i < 5000; i++)
            {
                copier.Copy(batch);
                foreach (var s in batch)
                    worst = Math.Min(worst, s.Status);
            }
            return worst;
        })));
        Assert.Equal([GrantStatus.Okay, GrantStatus.Okay], statuses);
        Assert.Equal(0, InUse(14));
        Assert.Equal(0, InUse(15));
        Assert.True(Granter.EndAccess(14));
    }

    [Fact]
    public void A_guest_that_restarts_is_seen_with_its_new_files_at_the_next_batch_and_forgotten_when_gone()
    {
        using var first = SimDomain.CreateGuest(_root.Root, 9, 2);
        first.Page(1).Fill(0x11);
        first.Granter!.Grant(20, frame: 1, Backend, readOnly: true);
        Assert.Equal(GrantStatus.Okay, _copier.Status(GrantCopies.FromGrant(9, 20, 0, _local.Address, 4)));
        Assert.Equal(0x11, _local.Span[0]);

        first.Dispose();
        using var second = SimDomain.CreateGuest(_root.Root, 9, 8);
        second.Page(5).Fill(0x22);
        second.Granter!.Grant(20, frame: 5, Backend, readOnly: true);
        Assert.Equal(GrantStatus.Okay, _copier.Status(GrantCopies.FromGrant(9, 20, 0, _local.Address, 4)));
        Assert.Equal(0x22, _local.Span[0]);

        second.Remove();
        Assert.Equal(GrantStatus.BadDomain, _copier.Status(GrantCopies.FromGrant(9, 20, 0, _local.Address, 4)));
    }

    [Fact]
    public void A_copier_is_counted_before_its_swap_so_a_user_letting_go_meanwhile_leaves_the_bits_set()
    {
        Granter.Grant(10, frame: 3, Backend, readOnly: true);
        var domain = _domains.Acquire(Guest)!;
        try
        {
            Assert.Equal(GrantStatus.Okay, domain.Claim(10, Backend, write: false, out _));
            var endedUnderTheCopier = true;
            var hook = new PinHooks(swap: (ref uint _, int _) =>
            {
                // Another user of ours (a ring mapping, a copier on another lane) lets go, and the guest
                // tries to take its page back, between the copier's check and its swap.
                domain.Unclaim(10, write: false);
                endedUnderTheCopier = Granter.EndAccess(10);
            });
            Span<GrantCopySegment> one = [GrantCopies.FromGrant(Guest, 10, 0, _local.Address, 10)];
            _copier.Copy(one, DomId.Self, ref hook);
            Assert.Equal(GrantStatus.Okay, one[0].Status);
            Assert.False(endedUnderTheCopier, "the guest could end access while the copier was about to pin and copy");
            Assert.Equal(0xab, _local.Span[9]);
            Assert.Equal(0, InUse(10));
            Assert.True(Granter.EndAccess(10));
        }
        finally
        {
            domain.Release();
        }
    }

    [Fact]
    public void A_claim_waits_while_the_last_user_clears_so_the_clear_never_takes_a_new_pin_s_bits()
    {
        Granter.Grant(10, frame: 3, Backend, readOnly: true);
        var domain = _domains.Acquire(Guest)!;
        try
        {
            short claimed = 1; // no GNTST_* value: the claim sets it
            using var done = new ManualResetEventSlim();
            Thread? other = null;
            var claimedDuringTheClear = true;
            var hook = new PinHooks(clear: _ =>
            {
                // The copier let go last and is about to clear GTF_reading: another user of ours (a ring
                // mapping, a copier on another lane) claims the reference now, on its own thread.
                other = new Thread(() =>
                {
                    claimed = domain.Claim(10, Backend, write: false, out _);
                    done.Set();
                });
                other.Start();
                claimedDuringTheClear = done.Wait(TimeSpan.FromMilliseconds(200));
            });
            Span<GrantCopySegment> one = [GrantCopies.FromGrant(Guest, 10, 0, _local.Address, 10)];
            _copier.Copy(one, DomId.Self, ref hook);
            Assert.Equal(GrantStatus.Okay, one[0].Status);
            Assert.False(claimedDuringTheClear, "a claim went through while another user was clearing the bits");
            Assert.True(done.Wait(TimeSpan.FromSeconds(30)), "the claim should go through once the clear is done");
            other!.Join();
            Assert.Equal(GrantStatus.Okay, claimed);
            // Its pin came after the clear: the bits are set for it, and the guest cannot end access.
            Assert.Equal(GTF_reading, InUse(10));
            Assert.False(Granter.EndAccess(10));
            domain.Unclaim(10, write: false);
            Assert.Equal(0, InUse(10));
        }
        finally
        {
            domain.Release();
        }
    }

    [Fact]
    public void A_pin_that_fails_after_another_user_let_go_clears_the_bits_that_user_left_to_it()
    {
        Granter.Grant(10, frame: 3, Backend, readOnly: false);
        var domain = _domains.Acquire(Guest)!;
        try
        {
            Assert.Equal(GrantStatus.Okay, domain.Claim(10, Backend, write: true, out _));
            var hook = new PinHooks(swap: (ref uint word, int attempt) =>
            {
                if (attempt != 1)
                    return;
                // The other user lets go while the copier is counted; then a hostile guest re-grants the
                // entry to domain 7 without waiting for the bits to clear.
                domain.Unclaim(10, write: true);
                word = (word & 0xFFFFu) | (7u << 16);
            });
            Span<GrantCopySegment> one = [GrantCopies.ToGrant(_local.Address, Guest, 10, 0, 10)];
            _copier.Copy(one, DomId.Self, ref hook);
            Assert.Equal(GrantStatus.GeneralError, one[0].Status);
            // Nobody of ours uses it any more: bits left set would keep the guest from ending access for ever.
            Assert.Equal(0, InUse(10));
            Assert.True(Granter.EndAccess(10));
        }
        finally
        {
            domain.Release();
        }
    }

    [Fact]
    public void A_failed_pin_with_nothing_left_to_it_leaves_another_domain_s_in_use_bits_alone()
    {
        // Granted to domain 7, which has it pinned for writing: our copy is refused and must not clear its bits.
        Granter.Grant(12, frame: 3, 7, readOnly: false);
        SetFlags(12, GTF_permit_access | GTF_reading | GTF_writing);
        Assert.Equal(GrantStatus.GeneralError, _copier.Status(GrantCopies.ToGrant(_local.Address, Guest, 12, 0, 10)));
        Assert.Equal(GrantStatus.GeneralError, _copier.Status(GrantCopies.FromGrant(Guest, 12, 0, _local.Address, 10)));
        Assert.Equal(GTF_reading | GTF_writing, InUse(12));
    }

    [Fact]
    public async Task Two_copiers_racing_a_guest_that_ends_access_fail_cleanly_and_never_copy_past_the_end()
    {
        // The guest grants a source page (reference 20, frame 6, read-only) and a destination page
        // (reference 21, frame 7), lets the copiers at them, ends access (retrying while we hold them) and
        // then uses both pages for something else. Two copiers on their own threads copy from 20 to local
        // memory and from 20 to 21 all along. A copy that says okay must have read one round's page whole,
        // never the guest's later bytes; a copy after the end must be general_error; after the end the
        // destination page must stay as the guest left it.
        const uint Source = 20, Dest = 21;
        const byte Reused = 0xff, Mark = 0xee;
        var pageSize = SimRoot.PageSize;
        var stop = 0;
        var problems = new System.Collections.Concurrent.ConcurrentQueue<string>();
        var okay = new long[2];
        var refused = new long[2];
        var copiers = Enumerable.Range(0, 2).Select(t => Task.Run(() =>
        {
            var copier = new SimGrantCopier(_domains, Backend);
            using var local = new LocalBuffer(pageSize);
            Span<GrantCopySegment> batch =
            [
                GrantCopies.FromGrant(Guest, Source, 0, local.Address, (ushort)pageSize),
                GrantCopies.GrantToGrant(Guest, Source, 0, Guest, Dest, 0, (ushort)pageSize),
            ];
            while (Volatile.Read(ref stop) == 0)
            {
                copier.Copy(batch);
                foreach (var segment in batch)
                {
                    if (segment.Status == GrantStatus.Okay)
                        okay[t]++;
                    else if (segment.Status == GrantStatus.GeneralError)
                        refused[t]++;
                    else
                        problems.Enqueue($"copier {t}: status {segment.Status}");
                }
                if (batch[0].Status == GrantStatus.Okay)
                {
                    var first = local.Span[0];
                    if (first == Reused || first == 0 || local.Span.IndexOfAnyExcept(first) >= 0)
                        problems.Enqueue($"copier {t}: an okay copy read a page that was not one round's whole (first byte {first:x2})");
                }
            }
        })).ToArray();

        // At least 1.5 s of rounds (the race this looks for is a few instructions wide), at most 30 s for
        // copiers that a loaded machine hardly runs.
        var started = DateTime.UtcNow;
        var rounds = 0;
        for (; DateTime.UtcNow - started < TimeSpan.FromSeconds(30); rounds++)
        {
            if (DateTime.UtcNow - started > TimeSpan.FromSeconds(1.5) && BothAbove0(okay) && BothAbove0(refused))
                break;
            var value = (byte)(1 + rounds % 200);
            _guest.Page(6).Fill(value);
            _guest.Page(7).Clear();
            Granter.Grant(Source, frame: 6, Backend, readOnly: true);
            Granter.Grant(Dest, frame: 7, Backend, readOnly: false);
            Thread.SpinWait(20 + rounds % 200);
            var spin = default(SpinWait);
            while (!Granter.EndAccess(Source))
                spin.SpinOnce(sleep1Threshold: -1);
            while (!Granter.EndAccess(Dest))
                spin.SpinOnce(sleep1Threshold: -1);

            // Both ended: every copy of this round is complete, and no copy may touch the pages again.
            var written = _guest.Page(7)[0];
            if ((written != 0 && written != value) || _guest.Page(7).IndexOfAnyExcept(written) >= 0)
                problems.Enqueue($"round {rounds}: the destination page is not whole after the end");
            _guest.Page(6).Fill(Reused);
            _guest.Page(7).Fill(Mark);
            Thread.SpinWait(50);
            if (_guest.Page(7).IndexOfAnyExcept(Mark) >= 0)
                problems.Enqueue($"round {rounds}: a copy wrote to the destination page after the guest ended access");
        }
        Volatile.Write(ref stop, 1);
        await Task.WhenAll(copiers);

        Assert.Empty(problems);
        Assert.True(BothAbove0(okay) && BothAbove0(refused),
            $"in {rounds} rounds each copier should have had copies both done and refused: okay {string.Join('/', okay)}, refused {string.Join('/', refused)}");
        Assert.Equal(0, InUse(Source));
        Assert.Equal(0, InUse(Dest));
    }

    private static bool BothAbove0(long[] counts) => Volatile.Read(ref counts[0]) > 0 && Volatile.Read(ref counts[1]) > 0;

    private void SetFlags(uint gref, ushort flags)
    {
        // Plays a guest writing its own entry directly.
        var domain = _domains.Acquire(Guest)!;
        try
        {
            ref var word = ref domain.GrantTable.File.UInt32At(gref * 8);
            word = (word & 0xFFFF_0000u) | flags;
        }
        finally
        {
            domain.Release();
        }
    }
}
