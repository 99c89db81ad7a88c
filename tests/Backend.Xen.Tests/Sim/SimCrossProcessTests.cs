using System.Runtime.InteropServices;
using Backend.Xen.Grants;
using Backend.Xen.Platform.Sim;

namespace Backend.Xen.Tests.Sim;

/// <summary>
/// Our C# side against the C reference implementation of SIMXEN in another process: each is the other
/// domain, so both follow the same files, bits and datagrams.
/// </summary>
public sealed class SimCrossProcessTests : IDisposable
{
    private readonly SimTestRoot _root = new();

    public void Dispose() => _root.Dispose();

    [SkippableFact]
    public async Task A_grant_made_by_the_C_guest_is_copied_by_our_copier_both_ways()
    {
        await using var peer = await SimCPeer.StartAsync(_root.Root.Path, 7, 4);
        Assert.Equal("ok", await peer.CommandAsync("fill 2 171"));
        Assert.Equal("ok", await peer.CommandAsync("grant 10 2 0 1"));
        Assert.Equal("ok", await peer.CommandAsync("grant 11 3 0 0"));

        using var domains = new SimForeignDomains(_root.Root);
        var copier = new SimGrantCopier(domains, 0);
        using var local = new LocalBuffer(4096);
        Assert.Equal(GrantStatus.Okay, copier.Status(GrantCopies.FromGrant(7, 10, 0, local.Address, 4096)));
        Assert.True(local.Span.IndexOfAnyExcept((byte)171) < 0, "every byte of the C guest's page should be 171");

        local.Span.Fill(0x5a);
        Assert.Equal(GrantStatus.Okay, copier.Status(GrantCopies.ToGrant(local.Address, 7, 11, 100, 50)));
        Assert.Equal(GrantStatus.GeneralError, copier.Status(GrantCopies.ToGrant(local.Address, 7, 10, 0, 1)));
        Assert.Equal(GrantStatus.BadCopyArg, copier.Status(GrantCopies.ToGrant(local.Address, 7, 11, 4000, 100)));
        Assert.Equal("value 90", await peer.CommandAsync("peek 3 100"));
        Assert.Equal("value 90", await peer.CommandAsync("peek 3 149"));
        Assert.Equal("value 0", await peer.CommandAsync("peek 3 150"));
        Assert.Equal("ok 1", await peer.CommandAsync("endaccess 11"));
        Assert.Equal(GrantStatus.GeneralError, copier.Status(GrantCopies.ToGrant(local.Address, 7, 11, 0, 1)));
    }

    [SkippableFact]
    public async Task A_C_guest_port_is_bound_by_our_backend_and_notifications_cross_both_ways()
    {
        await using var peer = await SimCPeer.StartAsync(_root.Root.Path, 7, 1);
        using var backend = SimDomain.CreateBackend(_root.Root, 0);
        using var channels = new SimEventChannels(backend);
        Assert.Equal("ok", await peer.CommandAsync("alloc 33 0"));

        var handler = new RecordingHandler();
        var local = channels.BindInterdomain(7, 33, handler);
        Assert.Equal($"entry 0 1 {local}", await peer.CommandAsync("entry 33"));

        Assert.Equal("ok", await peer.CommandAsync("notify 33"));
        Assert.Equal(local, await handler.NextAsync("the C guest's notify"));
        channels.Notify(local);
        Assert.Equal("event 33", await peer.CommandAsync("wait 33 10000"));

        channels.Unbind(local);
        Assert.Equal("entry 0 0 0", await peer.CommandAsync("entry 33"));
    }

    [SkippableFact]
    public async Task A_C_backend_binds_our_guest_port_and_notifications_cross_both_ways()
    {
        await using var peer = await SimCPeer.StartAsync(_root.Root.Path, 0, 1);
        using var guest = SimDomain.CreateGuest(_root.Root, 5, 1);
        using var channels = new SimGuestEventChannels(guest);
        var handler = new RecordingHandler();
        channels.AllocateUnbound(40, 0, handler);

        var answer = await peer.CommandAsync("bind 5 40");
        Assert.StartsWith("port ", answer);
        var local = uint.Parse(answer["port ".Length..]);
        Assert.Equal(SimEventChannelEntry.Interdomain(0, local), guest.ReadEventChannelEntry(40));
        Assert.Equal($"entry 5 1 40", await peer.CommandAsync($"entry {local}"));

        channels.Notify(40);
        Assert.Equal($"event {local}", await peer.CommandAsync($"wait {local} 10000"));
        Assert.Equal("ok", await peer.CommandAsync($"notify {local}"));
        Assert.Equal(40u, await handler.NextAsync("the C backend's notify"));

        Assert.Equal("ok", await peer.CommandAsync($"unbind {local}"));
        Assert.Equal(SimEventChannelEntry.Unbound(0), guest.ReadEventChannelEntry(40));
    }

    [SkippableFact]
    public async Task No_notification_from_a_C_guest_burst_is_lost()
    {
        const int Notifications = 20000;
        await using var peer = await SimCPeer.StartAsync(_root.Root.Path, 7, 1);
        using var backend = SimDomain.CreateBackend(_root.Root, 0);
        using var channels = new SimEventChannels(backend);
        using var domains = new SimForeignDomains(_root.Root);
        Assert.Equal("ok", await peer.CommandAsync("alloc 33 0"));
        Assert.Equal("ok", await peer.CommandAsync("grant 12 0 0 1"));
        using var page = new SimGrantMapper(domains, 0).Map(7, 12, writable: false);

        // The C guest writes i into its page, then notifies, as a frontend pushes requests.
        var handler = new CounterHandler(() => (uint)Volatile.Read(ref CounterAt(page.Address)), Notifications);
        channels.BindInterdomain(7, 33, handler);
        var sent = await peer.CommandAsync($"burst 33 {Notifications}");
        var finished = await Task.WhenAny(handler.Done, Task.Delay(TimeSpan.FromSeconds(20)));
        Assert.True(finished == handler.Done, $"the last of {Notifications} notifications never arrived (C side: {sent}, events: {handler.Events})");
    }

    [SkippableFact]
    public async Task No_notification_from_our_guest_burst_to_a_C_backend_is_lost()
    {
        const uint Notifications = 20000;
        await using var peer = await SimCPeer.StartAsync(_root.Root.Path, 0, 1);
        using var guest = SimDomain.CreateGuest(_root.Root, 5, 1);
        using var channels = new SimGuestEventChannels(guest);
        channels.AllocateUnbound(40, 0, new RecordingHandler());
        guest.Granter!.Grant(8, frame: 0, domid: 0, readOnly: true);
        var answer = await peer.CommandAsync("bind 5 40");
        var local = uint.Parse(answer["port ".Length..]);
        Assert.Equal("ok", await peer.CommandAsync("map 5 8"));

        await peer.SendAsync($"waitcount {local} {Notifications} 20000");
        var counter = MemoryMarshal.Cast<byte, uint>(guest.Page(0));
        for (uint i = 1; i <= Notifications; i++)
        {
            Volatile.Write(ref counter[0], i);
            channels.Notify(40);
        }
        Assert.Equal("done", await peer.ReadLineAsync("waitcount", 30));
    }

    private static unsafe ref int CounterAt(nint address) => ref *(int*)address;
}
