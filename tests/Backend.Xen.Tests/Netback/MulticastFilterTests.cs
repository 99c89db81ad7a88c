using Backend.Xen.Abi;
using Backend.Xen.Netback;

namespace Backend.Xen.Tests.Netback;

/// <summary>The per-vif multicast filter as Linux netback's xenvif_mcast_add/del/match, and decision 83's overflow.</summary>
public sealed class MulticastFilterTests
{
    private static readonly MacAddress Group = new(0x01_00_5E_7F_00_FBUL);
    private static readonly MacAddress OtherGroup = new(0x01_00_5E_7F_00_01UL);
    private static readonly MacAddress Unicast = new(0x00_16_3E_00_00_01UL);

    private static MulticastFilter Controlled()
    {
        var filter = new MulticastFilter();
        filter.Connect(control: true, resumed: false);
        return filter;
    }

    /// <summary>A group address of its own per n (01:00:5e:00:nn:nn).</summary>
    private static MacAddress GroupNumber(int n) => new(0x01_00_5E_00_00_00UL + (uint)n);

    [Fact]
    public void Without_control_every_frame_is_accepted_whatever_the_list()
    {
        var filter = new MulticastFilter();
        filter.Connect(control: false, resumed: false);
        Assert.True(filter.Add(Group));
        Assert.True(filter.Accepts(OtherGroup), "netif.h: the list is applied only while request-multicast-control is set");
    }

    [Fact]
    public void With_control_a_multicast_frame_is_accepted_only_for_a_listed_group_and_broadcast_and_unicast_always()
    {
        var filter = Controlled();
        Assert.False(filter.Accepts(Group), "an empty list accepts no multicast");
        Assert.True(filter.Add(Group));
        Assert.True(filter.Accepts(Group));
        Assert.False(filter.Accepts(OtherGroup));
        Assert.True(filter.Accepts(MacAddress.Broadcast), "broadcast is never filtered (Linux filters PACKET_MULTICAST only)");
        Assert.True(filter.Accepts(Unicast));
    }

    [Fact]
    public void Control_turned_off_and_on_again_keeps_the_list_as_Linux_s_watch_does()
    {
        var filter = Controlled();
        filter.Add(Group);
        filter.Control = false;
        Assert.True(filter.Accepts(OtherGroup));
        filter.Control = true;
        Assert.True(filter.Accepts(Group));
        Assert.False(filter.Accepts(OtherGroup));
    }

    [Fact]
    public void Any_address_is_taken_as_Linux_takes_it_and_a_unicast_or_broadcast_entry_changes_nothing()
    {
        var filter = Controlled();
        Assert.True(filter.Add(Unicast));
        Assert.True(filter.Add(MacAddress.Broadcast));
        Assert.True(filter.Add(new MacAddress(0)));
        Assert.Equal(3, filter.Count);
        Assert.False(filter.Accepts(Group));
    }

    [Fact]
    public void A_duplicate_takes_an_entry_of_its_own_and_a_delete_removes_one()
    {
        var filter = Controlled();
        filter.Add(Group);
        filter.Add(Group);
        Assert.Equal(2, filter.Count);
        filter.Delete(Group);
        Assert.Equal(1, filter.Count);
        Assert.True(filter.Accepts(Group), "one entry is left");
        filter.Delete(Group);
        Assert.False(filter.Accepts(Group));
        filter.Delete(Group);
        Assert.Equal(0, filter.Count);
    }

    [Fact]
    public void The_65th_add_is_refused_and_the_vif_then_accepts_all_multicast_until_a_delete_matches_nothing()
    {
        var filter = Controlled();
        for (var i = 0; i < MulticastFilter.MaxAddresses; i++)
            Assert.True(filter.Add(GroupNumber(i)), $"add {i + 1} of {MulticastFilter.MaxAddresses}");
        Assert.False(filter.AcceptsAll);
        Assert.False(filter.Accepts(OtherGroup));

        Assert.False(filter.Add(OtherGroup), "Linux's xenvif_mcast_add: -ENOSPC at XEN_NETBK_MCAST_MAX");
        Assert.Equal(MulticastFilter.MaxAddresses, filter.Count);
        Assert.True(filter.AcceptsAll);
        Assert.True(filter.Accepts(OtherGroup), "a frontend that ignores the ERROR still gets the group it joined");

        // Deleting a listed address frees room but does not end it: the refused group is still wanted.
        filter.Delete(GroupNumber(0));
        Assert.True(filter.AcceptsAll);
        // The frontend leaves the group it was refused: a delete that matches nothing.
        filter.Delete(OtherGroup);
        Assert.False(filter.AcceptsAll);
        Assert.False(filter.Accepts(OtherGroup));
        Assert.True(filter.Accepts(GroupNumber(1)));
    }

    [Fact]
    public void A_delete_that_matches_nothing_without_a_refused_add_changes_nothing()
    {
        var filter = Controlled();
        filter.Add(Group);
        filter.Delete(OtherGroup);
        Assert.False(filter.AcceptsAll);
        Assert.Equal(1, filter.Count);
    }

    [Fact]
    public void A_reset_at_disconnect_clears_the_list_the_overflow_and_control()
    {
        var filter = Controlled();
        for (var i = 0; i <= MulticastFilter.MaxAddresses; i++)
            filter.Add(GroupNumber(i));
        filter.Reset();
        Assert.Equal(0, filter.Count);
        Assert.False(filter.AcceptsAll);
        Assert.False(filter.Control);
        filter.Connect(control: true, resumed: false);
        Assert.False(filter.Accepts(Group));
        Assert.True(filter.Add(Group));
    }

    [Fact]
    public void A_resumed_connection_whose_list_this_daemon_never_saw_accepts_all_multicast_until_a_new_connection()
    {
        var filter = new MulticastFilter();
        filter.Connect(control: true, resumed: true);
        Assert.True(filter.Lost);
        Assert.True(filter.Accepts(Group));
        filter.Add(Group);
        filter.Delete(OtherGroup);
        Assert.True(filter.Accepts(OtherGroup), "only a new connection ends a lost list");
        filter.Reset();
        filter.Connect(control: true, resumed: false);
        Assert.False(filter.Accepts(OtherGroup));
    }

    [Fact]
    public void A_resumed_connection_of_a_list_this_filter_served_keeps_it()
    {
        var filter = Controlled();
        filter.Add(Group);
        // The vif's actors started again under the same frontend in this daemon.
        filter.Connect(control: true, resumed: true);
        Assert.False(filter.Lost);
        Assert.True(filter.Accepts(Group));
        Assert.False(filter.Accepts(OtherGroup));
    }

    [Fact]
    public void Mcast_add_extras_are_answered_okay_then_error_when_full_and_del_always_okay()
    {
        using var ring = new TxRingBuilder();
        var filter = Controlled();
        for (var i = 0; i < MulticastFilter.MaxAddresses; i++)
            filter.Add(GroupNumber(i));
        byte[] mac = [0x01, 0x00, 0x5E, 0x7F, 0x00, 0x01];
        ring.Request(0, NetTxFlags.ExtraInfo).Multicast(NetifExtraType.MulticastAdd, mac).Push();
        var add = ring.Parse();
        Assert.Equal(NetifResponseStatus.Error, filter.Apply(add));
        ring.ConsumeAndRespond(add, NetifResponseStatus.Error);
        ring.Request(0, NetTxFlags.ExtraInfo).Multicast(NetifExtraType.MulticastDel, mac).Push();
        Assert.Equal(NetifResponseStatus.Okay, filter.Apply(ring.Parse()));
    }

    [Fact]
    public void An_add_and_a_del_in_one_request_apply_the_add_alone_as_Linux_does()
    {
        using var ring = new TxRingBuilder();
        var filter = Controlled();
        byte[] add = [0x01, 0x00, 0x5E, 0x7F, 0x00, 0xFB];
        byte[] del = [0x01, 0x00, 0x5E, 0x7F, 0x00, 0xFB];
        filter.Add(Group);
        ring.Request(0, NetTxFlags.ExtraInfo).Multicast(NetifExtraType.MulticastDel, del, more: true).Multicast(NetifExtraType.MulticastAdd, add).Push();
        Assert.Equal(NetifResponseStatus.Okay, filter.Apply(ring.Parse()));
        Assert.Equal(2, filter.Count);
    }

    [Fact]
    public async Task A_reader_never_misses_a_listed_group_while_the_frontend_amends_the_list_on_another_thread()
    {
        var filter = Controlled();
        // The stable entry sits above 40 that come and go: an entry that moved to fill a hole would be
        // missed by a reader that had passed the hole.
        for (var i = 0; i < 40; i++)
            filter.Add(GroupNumber(i));
        filter.Add(GroupNumber(1000));
        using var stop = new CancellationTokenSource();
        var writer = Task.Run(() =>
        {
            var n = 0;
            while (!stop.IsCancellationRequested)
            {
                for (var i = 0; i < 40; i++)
                    filter.Delete(GroupNumber(n + i));
                n = (n + 40) % 900;
                for (var i = 0; i < 40; i++)
                    filter.Add(GroupNumber(n + i));
            }
        });
        var misses = 0;
        var deadline = DateTime.UtcNow.AddMilliseconds(300);
        while (DateTime.UtcNow < deadline)
        {
            if (!filter.Accepts(GroupNumber(1000)))
                misses++;
        }
        stop.Cancel();
        await writer;
        Assert.Equal(0, misses);
    }
}
