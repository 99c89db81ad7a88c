using Backend.Xen.EventChannels;
using Backend.Xen.Platform.Sim;

namespace Backend.Xen.Tests.Sim;

public sealed class SimEventChannelTests : IDisposable
{
    private const ushort Backend = 0;
    private const ushort Guest = 5;

    private readonly SimTestRoot _root = new();
    private SimDomain _backend;
    private SimEventChannels _backendChannels;
    private readonly SimDomain _guest;
    private readonly SimGuestEventChannels _guestChannels;

    public SimEventChannelTests()
    {
        _backend = SimDomain.CreateBackend(_root.Root, Backend);
        _backendChannels = new SimEventChannels(_backend);
        _guest = SimDomain.CreateGuest(_root.Root, Guest, 4);
        _guestChannels = new SimGuestEventChannels(_guest);
    }

    public void Dispose()
    {
        _backendChannels.Dispose();
        _backend.Dispose();
        _guestChannels.Dispose();
        _guest.Dispose();
        _root.Dispose();
    }

    [Fact]
    public void Allocating_an_unbound_port_writes_the_backend_domid_and_state_0()
    {
        Assert.Equal(33u, _guestChannels.AllocateUnbound(33, 3, new RecordingHandler()));
        Assert.Equal(new SimEventChannelEntry(3, 0, 0), _guest.ReadEventChannelEntry(33));
        Assert.Throws<InvalidOperationException>(() => _guestChannels.AllocateUnbound(33, 3, new RecordingHandler()));
        Assert.Throws<ArgumentOutOfRangeException>(() => _guestChannels.AllocateUnbound(4096, 3, new RecordingHandler()));
    }

    [Fact]
    public void Bind_writes_our_entry_then_the_guest_entry_whatever_it_held()
    {
        _guestChannels.AllocateUnbound(33, Backend, new RecordingHandler());
        var local = _backendChannels.BindInterdomain(Guest, 33, new RecordingHandler());
        Assert.InRange(local, 1u, 4095u);
        Assert.Equal(SimEventChannelEntry.Interdomain(Guest, 33), _backend.ReadEventChannelEntry(local));
        Assert.Equal(SimEventChannelEntry.Interdomain(Backend, local), _guest.ReadEventChannelEntry(33));
    }

    [Fact]
    public async Task Notifications_reach_the_handler_of_the_other_side_port()
    {
        var guestHandler = new RecordingHandler();
        var backendHandler = new RecordingHandler();
        _guestChannels.AllocateUnbound(33, Backend, guestHandler);
        var local = _backendChannels.BindInterdomain(Guest, 33, backendHandler);

        _guestChannels.Notify(33);
        Assert.Equal(local, await backendHandler.NextAsync("guest notify on port 33 to the backend"));
        _backendChannels.Notify(local);
        Assert.Equal(33u, await guestHandler.NextAsync("backend notify to guest port 33"));
        Assert.False(_backend.IsPending(local));
        Assert.False(_guest.IsPending(33));
    }

    [Fact]
    public void A_bit_still_pending_suppresses_the_datagram()
    {
        _guestChannels.AllocateUnbound(33, Backend, new RecordingHandler());
        var local = _backendChannels.BindInterdomain(Guest, 33, new RecordingHandler());
        // The backend has not drained this port yet: its bit is set, and no wake-up is owed.
        Assert.True(_backend.Pending.SetPending(local));
        _guestChannels.Notify(33);
        _guestChannels.Notify(33);
        var counters = _guestChannels.Counters;
        Assert.Equal(2, counters.Notifications);
        Assert.Equal(2, counters.Suppressed);
        Assert.True(_backend.IsPending(local));
    }

    [Fact]
    public async Task Guests_that_never_read_their_socket_do_not_stall_the_wake_ups_of_another()
    {
        // 40 guests whose sockets nobody reads, 12 ports each, every port notified once: each guest's queue
        // fills (10 datagrams) and the rest of its wake-ups fail, which SIMXEN allows.
        var hostile = new List<SimDomain>();
        try
        {
            for (ushort g = 100; g < 140; g++)
            {
                var domain = SimDomain.CreateGuest(_root.Root, g, 1);
                hostile.Add(domain);
                for (uint p = 1; p <= 12; p++)
                    _backendChannels.Notify(_backendChannels.BindInterdomain(g, p, new RecordingHandler()));
            }
            Assert.True(_backendChannels.Counters.SendFailures > 0, "no hostile guest's queue filled up: the test proves nothing");

            // A guest that reads still hears the backend. With one send socket for every peer, the datagrams
            // stuck in the hostile queues filled its buffer and this wake-up failed too, while the guest's
            // bit stayed set: it never woke.
            var handler = new RecordingHandler();
            _guestChannels.AllocateUnbound(33, Backend, handler);
            var local = _backendChannels.BindInterdomain(Guest, 33, new RecordingHandler());
            _backendChannels.Notify(local);
            Assert.Equal(33u, await handler.NextAsync("the backend's notification to a guest beside 40 that never read"));
        }
        finally
        {
            foreach (var domain in hostile)
                domain.Dispose();
        }
    }

    /// <summary>Notifies ordinary port 34 and waits for it: everything the guest sent before has been taken.</summary>
    private async Task ReceiveLoopBarrierAsync()
    {
        var barrier = new RecordingHandler();
        _guestChannels.AllocateUnbound(34, Backend, new RecordingHandler());
        var local = _backendChannels.BindInterdomain(Guest, 34, barrier);
        _guestChannels.Notify(34);
        Assert.Equal(local, await barrier.NextAsync("the barrier port"));
    }

    [Fact]
    public async Task A_late_eoi_port_holds_notifications_pending_until_its_late_eoi_which_delivers_one()
    {
        var handler = new RecordingHandler();
        _guestChannels.AllocateUnbound(33, Backend, new RecordingHandler());
        var local = _backendChannels.BindInterdomainLateEoi(Guest, 33, handler);

        _guestChannels.Notify(33);
        Assert.Equal(local, await handler.NextAsync("the first notification"));
        // Masked: the next one stays pending in the bitmap, so the guest's others find it set and send nothing.
        for (var i = 0; i < 100; i++)
            _guestChannels.Notify(33);
        await ReceiveLoopBarrierAsync();
        Assert.Equal(1, handler.Count);
        Assert.True(_backend.IsPending(local), "a notification on a masked port must stay pending");
        Assert.True(_guestChannels.Counters.Suppressed >= 99, $"only {_guestChannels.Counters.Suppressed} of 100 notifications on a masked port were suppressed");

        // The late EOI delivers the one held (on the caller's thread), and the port is masked again for it.
        _backendChannels.LateEoi(local, handler);
        Assert.Equal(2, handler.Count);
        Assert.True(handler.TryTake(out var held) && held == local, "the held notification was not delivered at the late EOI");
        Assert.False(_backend.IsPending(local));
        _backendChannels.LateEoi(local, handler);
        Assert.Equal(2, handler.Count);

        // Unmasked with nothing held: the next notification is delivered by the receive loop.
        _guestChannels.Notify(33);
        Assert.Equal(local, await handler.NextAsync("a notification after the late EOI"));
        Assert.Equal(3, handler.Count);
    }

    [Fact]
    public async Task A_late_eoi_for_another_handler_leaves_the_port_masked()
    {
        var handler = new RecordingHandler();
        _guestChannels.AllocateUnbound(33, Backend, new RecordingHandler());
        var local = _backendChannels.BindInterdomainLateEoi(Guest, 33, handler);
        _guestChannels.Notify(33);
        await handler.NextAsync("the first notification");

        // A stale EOI (a handler whose binding had this port number before) is not this binding's.
        _backendChannels.LateEoi(local, new RecordingHandler());
        _guestChannels.Notify(33);
        await ReceiveLoopBarrierAsync();
        Assert.Equal(1, handler.Count);
        Assert.True(_backend.IsPending(local));
    }

    [Fact]
    public async Task An_ordinary_port_is_never_masked()
    {
        var handler = new RecordingHandler();
        _guestChannels.AllocateUnbound(33, Backend, new RecordingHandler());
        var local = _backendChannels.BindInterdomain(Guest, 33, handler);
        for (var i = 1; i <= 3; i++)
        {
            _guestChannels.Notify(33);
            Assert.Equal(local, await handler.NextAsync($"notification {i}"));
        }
        Assert.False(_backend.IsPending(local));
    }

    [Fact]
    public async Task Unbind_clears_our_entry_and_returns_the_guest_entry_to_unbound()
    {
        var backendHandler = new RecordingHandler();
        _guestChannels.AllocateUnbound(33, Backend, new RecordingHandler());
        var local = _backendChannels.BindInterdomain(Guest, 33, backendHandler);
        _backendChannels.Unbind(local);
        Assert.Equal(default, _backend.ReadEventChannelEntry(local));
        Assert.Equal(SimEventChannelEntry.Unbound(Backend), _guest.ReadEventChannelEntry(33));

        var before = _guestChannels.Counters.Notifications;
        _guestChannels.Notify(33);
        _backendChannels.Notify(local);
        Assert.Equal(before, _guestChannels.Counters.Notifications);
        Assert.Equal(0, _backendChannels.Counters.Notifications);
        Assert.False(_backend.IsPending(local));

        // The handler is gone too: a port bound later proves the loop is alive and nothing else came.
        _guestChannels.AllocateUnbound(34, Backend, new RecordingHandler());
        var other = new RecordingHandler();
        var local2 = _backendChannels.BindInterdomain(Guest, 34, other);
        _guestChannels.Notify(34);
        Assert.Equal(local2, await other.NextAsync("notify on the second binding"));
        Assert.Equal(0, backendHandler.Count);
    }

    [Fact]
    public async Task The_guest_s_bitmap_stays_mapped_while_a_binding_to_it_does_and_goes_with_the_last()
    {
        var pending = Path.Combine(_root.Root.DomainDirectory(Guest), SimRoot.EventChannelPendingFile);
        var ours = ProcessMaps.Count(pending); // the guest's own, in this process
        var guestRx = new RecordingHandler();
        _guestChannels.AllocateUnbound(33, Backend, new RecordingHandler());
        _guestChannels.AllocateUnbound(34, Backend, guestRx);
        var tx = _backendChannels.BindInterdomain(Guest, 33, new RecordingHandler());
        var rx = _backendChannels.BindInterdomain(Guest, 34, new RecordingHandler());
        _backendChannels.Notify(tx);
        Assert.Equal(ours + 1, ProcessMaps.Count(pending));

        _backendChannels.Unbind(tx);
        _backendChannels.Notify(rx);
        // Through the mapping that stayed: the guest's loop takes the bit at once, so what shows it is the
        // guest's handler, not the bit (which the loop may have cleared already).
        Assert.Equal(34u, await guestRx.NextAsync("the notification through the remaining binding"));
        Assert.Equal(ours + 1, ProcessMaps.Count(pending));
        _backendChannels.Unbind(rx);
        Assert.Equal(ours, ProcessMaps.Count(pending));
    }

    [Fact]
    public void Unbind_never_undoes_a_newer_binding_of_the_guest_port()
    {
        _guestChannels.AllocateUnbound(33, Backend, new RecordingHandler());
        var local = _backendChannels.BindInterdomain(Guest, 33, new RecordingHandler());
        var newer = SimEventChannelEntry.Interdomain(Backend, local + 1000);
        _guest.Peers.Write(33, newer);
        _backendChannels.Unbind(local);
        Assert.Equal(newer, _guest.ReadEventChannelEntry(33));
        Assert.Equal(default, _backend.ReadEventChannelEntry(local));
    }

    [Fact]
    public async Task The_guest_reads_its_entry_at_every_notification_so_a_rebind_is_followed()
    {
        _guestChannels.AllocateUnbound(33, Backend, new RecordingHandler());
        var first = new RecordingHandler();
        var l1 = _backendChannels.BindInterdomain(Guest, 33, first);
        _guestChannels.Notify(33);
        Assert.Equal(l1, await first.NextAsync("first binding"));

        _backendChannels.Unbind(l1);
        var second = new RecordingHandler();
        var l2 = _backendChannels.BindInterdomain(Guest, 33, second);
        Assert.NotEqual(l1, l2);
        _guestChannels.Notify(33);
        Assert.Equal(l2, await second.NextAsync("the new binding after a rebind"));
        Assert.Equal(1, first.Count);
    }

    [Fact]
    public async Task No_notification_is_lost_under_a_burst()
    {
        const int Ports = 32;
        const uint Notifications = 1000;
        var counters = new uint[Ports];
        var handlers = new CounterHandler[Ports];
        var locals = new uint[Ports];
        for (var i = 0; i < Ports; i++)
        {
            var index = i;
            _guestChannels.AllocateUnbound((uint)(100 + i), Backend, new RecordingHandler());
            handlers[i] = new CounterHandler(() => Volatile.Read(ref counters[index]), Notifications);
            locals[i] = _backendChannels.BindInterdomain(Guest, (uint)(100 + i), handlers[i]);
        }

        // Two producers, as two vifs' actors would notify at once.
        await Task.WhenAll(Enumerable.Range(0, 2).Select(half => Task.Run(() =>
        {
            for (uint n = 1; n <= Notifications; n++)
            {
                for (var i = half; i < Ports; i += 2)
                {
                    Volatile.Write(ref counters[i], n);
                    _guestChannels.Notify((uint)(100 + i));
                }
            }
        })));

        var all = Task.WhenAll(handlers.Select(h => h.Done));
        var finished = await Task.WhenAny(all, Task.Delay(TimeSpan.FromSeconds(20)));
        var missing = handlers.Select((h, i) => (h, i)).Where(x => !x.h.Done.IsCompleted).Select(x => 100 + x.i).ToArray();
        Assert.True(finished == all, $"ports {string.Join(',', missing)} never saw their last notification");
        var c = _guestChannels.Counters;
        Assert.Equal(Ports * Notifications, (uint)c.Notifications);
        Assert.True(c.Suppressed > 0, "a burst should find bits still pending");
    }

    [Fact]
    public void Notify_towards_a_domain_that_is_not_there_does_nothing()
    {
        _guestChannels.AllocateUnbound(33, Backend, new RecordingHandler());
        _guest.Peers.Write(33, SimEventChannelEntry.Interdomain(77, 5));
        _guestChannels.Notify(33);
        Assert.Equal(0, _guestChannels.Counters.Notifications);
        Assert.False(Directory.Exists(_root.Root.DomainDirectory(77)));
    }

    [Fact]
    public void Notify_to_a_guest_that_was_removed_does_nothing()
    {
        using var other = SimDomain.CreateGuest(_root.Root, 8, 1);
        var otherChannels = new SimGuestEventChannels(other);
        otherChannels.AllocateUnbound(40, Backend, new RecordingHandler());
        var local = _backendChannels.BindInterdomain(8, 40, new RecordingHandler());
        otherChannels.Dispose();
        other.Remove();
        _backendChannels.Notify(local);
        _backendChannels.Notify(local);
        Assert.Equal(2, _backendChannels.Counters.Notifications);
    }

    [Fact]
    public void Binding_refuses_invalid_ports_and_missing_domains()
    {
        var handler = new RecordingHandler();
        // What the frontend named is refused as an IOException its vif's connection fails on (issue 12, finding 10).
        Assert.Throws<EventChannelBindException>(() => _backendChannels.BindInterdomain(Guest, 0, handler));
        Assert.Throws<EventChannelBindException>(() => _backendChannels.BindInterdomain(Guest, 4096, handler));
        Assert.Throws<IOException>(() => _backendChannels.BindInterdomain(9, 33, handler));
    }

    [Fact]
    public async Task A_handler_that_throws_does_not_stop_delivery_to_other_ports()
    {
        _guestChannels.AllocateUnbound(33, Backend, new RecordingHandler());
        _guestChannels.AllocateUnbound(34, Backend, new RecordingHandler());
        _backendChannels.BindInterdomain(Guest, 33, new ThrowingHandler());
        var good = new RecordingHandler();
        var local = _backendChannels.BindInterdomain(Guest, 34, good);
        _guestChannels.Notify(33);
        _guestChannels.Notify(34);
        Assert.Equal(local, await good.NextAsync("the port after a failing handler"));
        Assert.Equal(1, _backendChannels.Counters.HandlerFailures);
    }

    [Fact]
    public async Task A_restarted_backend_keeps_its_files_clears_stale_bits_and_binds_again()
    {
        _guestChannels.AllocateUnbound(33, Backend, new RecordingHandler());
        var oldLocal = _backendChannels.BindInterdomain(Guest, 33, new RecordingHandler());
        _backendChannels.Dispose();
        _backend.Dispose();

        // While the backend is down the guest notifies: the bit lands in the kept file.
        _guestChannels.Notify(33);
        var kept = File.ReadAllBytes(_root.Root.DomainFile(Backend, SimRoot.EventChannelPendingFile));
        Assert.True((BitConverter.ToUInt64(kept, (int)(oldLocal / 64) * 8) & (1UL << (int)(oldLocal % 64))) != 0, "the notify should set the bit in the kept file");

        _backend = SimDomain.CreateBackend(_root.Root, Backend);
        _backendChannels = new SimEventChannels(_backend);
        Assert.Equal(SimEventChannelEntry.Interdomain(Guest, 33), _backend.ReadEventChannelEntry(oldLocal));
        Assert.False(_backend.IsPending(oldLocal), "stale pending bits are cleared once at start");

        var handler = new RecordingHandler();
        var local = _backendChannels.BindInterdomain(Guest, 33, handler);
        _guestChannels.Notify(33);
        Assert.Equal(local, await handler.NextAsync("guest notify to the restarted backend"));
    }

    [Fact]
    public async Task Dispose_ends_the_receive_loop_in_an_orderly_way()
    {
        Assert.False(_backendChannels.ReceiveLoop.IsCompleted, "the loop should be waiting for wake-ups");
        _backendChannels.Dispose();
        await _backendChannels.ReceiveLoop.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(_backendChannels.ReceiveLoop.IsCompletedSuccessfully);
        _backendChannels.Dispose();
    }

    private sealed class ThrowingHandler : Backend.Xen.EventChannels.IEventChannelHandler
    {
        public void OnEvent(uint localPort) => throw new InvalidOperationException("handler bug");
    }
}
