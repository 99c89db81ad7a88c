using Backend.Xen.Grants;
using Backend.Xen.Platform.Sim;
using Backend.Xen.XenStore;

namespace Backend.Xen.Tests.Sim;

public sealed class SimXenPlatformTests : IDisposable
{
    private readonly SimTestRoot _root = new();

    public void Dispose() => _root.Dispose();

    [Fact]
    public async Task Platform_is_the_backend_domain_and_its_parts_work_on_one_guest()
    {
        var pendingConnection = new TaskCompletionSource<IXenStore>();
        CancellationToken seen = default;
        await using var platform = new SimXenPlatform(_root.Root, 3, ct =>
        {
            seen = ct;
            return pendingConnection.Task;
        });
        Assert.Equal((ushort)3, platform.BackendDomId);
        Assert.True(File.Exists(_root.Root.DomainFile(3, SimRoot.EventChannelPeersFile)));
        Assert.False(File.Exists(_root.Root.DomainFile(3, SimRoot.GrantTableFile)));

        using var cts = new CancellationTokenSource();
        Assert.Same(pendingConnection.Task, platform.ConnectXenStoreAsync(cts.Token));
        Assert.Equal(cts.Token, seen);

        using var guest = SimDomain.CreateGuest(_root.Root, 5, 4);
        using var guestChannels = new SimGuestEventChannels(guest);
        guest.Granter!.Grant(8, frame: 1, domid: 3, readOnly: false);
        guest.Granter.Grant(9, frame: 2, domid: 3, readOnly: false);

        using (var ring = platform.GrantMapper.Map(5, 8, writable: true))
            System.Runtime.InteropServices.Marshal.WriteByte(ring.Address, 1, 0x31);
        Assert.Equal(0x31, guest.Page(1)[1]);

        var copier = platform.CreateGrantCopier();
        Assert.NotSame(copier, platform.CreateGrantCopier());
        Assert.Equal(GrantStatus.Okay, copier.Status(GrantCopies.GrantToGrant(5, 8, 0, 5, 9, 0, 2)));
        Assert.Equal(0x31, guest.Page(2)[1]);

        var guestHandler = new RecordingHandler();
        guestChannels.AllocateUnbound(20, 3, guestHandler);
        var backendHandler = new RecordingHandler();
        var local = platform.EventChannels.BindInterdomain(5, 20, backendHandler);
        guestChannels.Notify(20);
        Assert.Equal(local, await backendHandler.NextAsync("guest to the platform's event channels"));
        platform.EventChannels.Notify(local);
        Assert.Equal(20u, await guestHandler.NextAsync("platform to the guest"));
    }

    [Fact]
    public async Task Disposing_the_platform_leaves_the_root_as_it_is()
    {
        var platform = new SimXenPlatform(_root.Root, 0, _ => Task.FromException<IXenStore>(new InvalidOperationException("no xenstore in this test")));
        await platform.DisposeAsync();
        await platform.DisposeAsync();
        Assert.True(File.Exists(_root.Root.DomainFile(0, SimRoot.EventChannelPeersFile)));
        Assert.True(File.Exists(_root.Root.DomainFile(0, SimRoot.EventChannelPendingFile)));
    }
}
