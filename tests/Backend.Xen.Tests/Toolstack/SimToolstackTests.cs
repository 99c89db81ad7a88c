using Backend.Xen.Platform.Sim;
using Backend.Xen.Platform.Sim.Toolstack;
using Backend.Xen.Tests.Netfront;
using Backend.Xen.XenStore;

namespace Backend.Xen.Tests.Toolstack;

public sealed class SimToolstackTests
{
    private const string Be = "/local/domain/0/backend/vif/5/1";
    private const string Fe = "/local/domain/5/device/vif/1";

    private static SimVifSpec Vif(int mtu = 1500, SimVifRate? rate = null) => new()
    {
        GuestDomId = 5,
        Handle = 1,
        Mac = "00:16:3e:12:34:56",
        Bridge = "xenbr1",
        Mtu = mtu,
        Rate = rate,
    };

    private static async Task AssertNodeAsync(IXenStore store, string path, string value, params string[] perms)
    {
        Assert.True(await store.ReadAsync(path) == value, $"{path} is \"{await store.ReadAsync(path)}\", expected \"{value}\"");
        var actual = await store.GetPermissionsAsync(path);
        Assert.True(actual is not null && actual.SequenceEqual(perms), $"{path} has permissions [{string.Join(',', actual ?? [])}], expected [{string.Join(',', perms)}]");
    }

    [Fact]
    public async Task Create_vif_writes_libxl_keys_with_backend_owned_by_B_and_frontend_owned_by_G()
    {
        await using var sim = await SimTestRoot.WithXenStoreAsync();
        var store = await sim.ConnectAsync();
        await new SimToolstack(store).CreateVifAsync(Vif());

        string[] b = ["n0", "r5"];
        await AssertNodeAsync(store, Be, "", b);
        await AssertNodeAsync(store, Be + "/frontend", Fe, b);
        await AssertNodeAsync(store, Be + "/frontend-id", "5", b);
        await AssertNodeAsync(store, Be + "/online", "1", b);
        await AssertNodeAsync(store, Be + "/state", "1", b);
        await AssertNodeAsync(store, Be + "/script", "/etc/xen/scripts/vif-bridge", b);
        await AssertNodeAsync(store, Be + "/mac", "00:16:3e:12:34:56", b);
        await AssertNodeAsync(store, Be + "/handle", "1", b);
        await AssertNodeAsync(store, Be + "/type", "vif", b);
        await AssertNodeAsync(store, Be + "/bridge", "xenbr1", b);
        await AssertNodeAsync(store, Be + "/hotplug-status", "", b);
        await AssertNodeAsync(store, "/local/domain/0/backend/vif/5", "", b);
        Assert.Null(await store.ReadAsync(Be + "/mtu"));
        Assert.Null(await store.ReadAsync(Be + "/rate"));
        var backendKeys = await store.DirectoryAsync(Be);
        Assert.Equal(["bridge", "frontend", "frontend-id", "handle", "hotplug-status", "mac", "online", "script", "state", "type"], backendKeys!.Order(StringComparer.Ordinal));

        string[] f = ["n5", "r0"];
        await AssertNodeAsync(store, Fe, "", f);
        await AssertNodeAsync(store, Fe + "/backend", Be, f);
        await AssertNodeAsync(store, Fe + "/backend-id", "0", f);
        await AssertNodeAsync(store, Fe + "/state", "1", f);
        await AssertNodeAsync(store, Fe + "/handle", "1", f);
        await AssertNodeAsync(store, Fe + "/mac", "00:16:3e:12:34:56", f);
        await AssertNodeAsync(store, Fe + "/mtu", "1500", f);
        await AssertNodeAsync(store, Fe + "/trusted", "1", f);
        Assert.Equal(["backend", "backend-id", "handle", "mac", "mtu", "state", "trusted"], (await store.DirectoryAsync(Fe))!.Order(StringComparer.Ordinal));
        await AssertNodeAsync(store, "/local/domain/5/device", "", "n5");
        await AssertNodeAsync(store, "/local/domain/5/device/vif", "", "n5");
        Assert.NotNull(await store.ReadAsync("/local/domain/5"));
    }

    [Fact]
    public async Task Mtu_other_than_1500_goes_to_the_backend_too_and_rate_is_bytes_comma_usec()
    {
        await using var sim = await SimTestRoot.WithXenStoreAsync();
        var store = await sim.ConnectAsync();
        await new SimToolstack(store).CreateVifAsync(Vif(mtu: 9000, rate: new SimVifRate(125000, 20000)));
        await AssertNodeAsync(store, Be + "/mtu", "9000", "n0", "r5");
        await AssertNodeAsync(store, Fe + "/mtu", "9000", "n5", "r0");
        await AssertNodeAsync(store, Be + "/rate", "125000,20000", "n0", "r5");
    }

    [Fact]
    public async Task Invalid_specs_are_refused_before_anything_is_written()
    {
        await using var sim = await SimTestRoot.WithXenStoreAsync();
        var store = await sim.ConnectAsync();
        var toolstack = new SimToolstack(store);
        await Assert.ThrowsAsync<ArgumentException>(() => toolstack.CreateVifAsync(Vif() with { Mac = "00:16:3e:12:34" }));
        await Assert.ThrowsAsync<ArgumentException>(() => toolstack.CreateVifAsync(Vif() with { GuestDomId = 0 }));
        await Assert.ThrowsAsync<ArgumentException>(() => toolstack.CreateVifAsync(Vif() with { Mtu = 65522 }));
        await Assert.ThrowsAsync<ArgumentException>(() => toolstack.CreateVifAsync(Vif() with { Bridge = "a/b" }));
        Assert.Null(await store.ReadAsync("/local/domain/5"));
        Assert.Null(await store.ReadAsync("/local/domain/0/backend"));
    }

    [Fact]
    public async Task Remove_vif_removes_backend_frontend_and_error_node_only()
    {
        await using var sim = await SimTestRoot.WithXenStoreAsync();
        var store = await sim.ConnectAsync();
        var toolstack = new SimToolstack(store);
        await toolstack.CreateVifAsync(Vif());
        await toolstack.CreateVifAsync(Vif() with { Handle = 2, Mac = "00:16:3e:12:34:57" });
        await store.WriteAsync(SimToolstack.ErrorPath(0, 5, 1) + "/error", "mapping tx ring-ref 9: GNTST -1");

        await toolstack.RemoveVifAsync(5, 1);

        Assert.Null(await store.ReadAsync(Be));
        Assert.Null(await store.ReadAsync(Fe));
        Assert.Null(await store.ReadAsync(SimToolstack.ErrorPath(0, 5, 1)));
        Assert.Equal("1", await store.ReadAsync("/local/domain/0/backend/vif/5/2/online"));
        Assert.Equal("1", await store.ReadAsync("/local/domain/5/device/vif/2/state"));
        Assert.Equal([2], await toolstack.ListVifsAsync(5));
        // Removing it again is not an error, as xenstore-rm of a missing node under libxl.
        await toolstack.RemoveVifAsync(5, 1);
    }

    [Fact]
    public async Task Unplug_writes_online_0_and_backend_state_closing_while_offline_writes_online_only()
    {
        await using var sim = await SimTestRoot.WithXenStoreAsync();
        var store = await sim.ConnectAsync();
        var toolstack = new SimToolstack(store);
        await toolstack.CreateVifAsync(Vif());
        await store.WriteAsync(Be + "/state", "4");

        await toolstack.SetOfflineAsync(5, 1);
        Assert.Equal("0", await store.ReadAsync(Be + "/online"));
        Assert.Equal("4", await store.ReadAsync(Be + "/state"));

        await toolstack.UnplugVifAsync(5, 1);
        Assert.Equal("0", await store.ReadAsync(Be + "/online"));
        Assert.Equal("5", await store.ReadAsync(Be + "/state"));
        Assert.Equal(["n0", "r5"], await store.GetPermissionsAsync(Be + "/online"));

        await Assert.ThrowsAsync<InvalidOperationException>(() => toolstack.UnplugVifAsync(5, 9));
        Assert.Null(await store.ReadAsync("/local/domain/0/backend/vif/5/9"));
    }

    [Fact]
    public async Task Destroy_guest_removes_its_vifs_then_its_sim_domain_directory()
    {
        await using var sim = await SimTestRoot.WithXenStoreAsync();
        var store = await sim.ConnectAsync();
        var toolstack = new SimToolstack(store);
        await toolstack.CreateVifAsync(Vif());
        await toolstack.CreateVifAsync(Vif() with { Handle = 3, Mac = "00:16:3e:12:34:58" });
        await toolstack.CreateVifAsync(Vif() with { GuestDomId = 6, Handle = 0, Mac = "00:16:3e:12:34:59" });
        using (SimDomain.CreateGuest(sim.Root, 5, 4))
        {
        }
        Assert.True(Directory.Exists(sim.Root.DomainDirectory(5)));

        await toolstack.DestroyGuestAsync(sim.Root, 5);

        Assert.False(Directory.Exists(sim.Root.DomainDirectory(5)));
        Assert.Empty(await toolstack.ListVifsAsync(5));
        Assert.Null(await store.ReadAsync(Fe));
        Assert.Null(await store.ReadAsync("/local/domain/5/device/vif/3"));
        Assert.Equal("1", await store.ReadAsync("/local/domain/6/device/vif/0/state"));
    }

    [SkippableTheory]
    [InlineData(1500, null)]
    [InlineData(65521, "100000,50000")]
    public async Task Create_vif_writes_exactly_what_the_C_reference_sxtool_writes(int mtu, string? rate)
    {
        var build = SimxenCReference.Build();
        await using var ours = await SimTestRoot.WithXenStoreAsync();
        await using var reference = await SimTestRoot.WithXenStoreAsync();
        var ourStore = await ours.ConnectAsync();
        var referenceStore = await reference.ConnectAsync();
        SimVifRate? parsedRate = rate is null ? null : new SimVifRate(ulong.Parse(rate.Split(',')[0]), uint.Parse(rate.Split(',')[1]));
        await new SimToolstack(ourStore).CreateVifAsync(Vif(mtu, parsedRate));
        string[] args = ["add", "5", "1", "00:16:3e:12:34:56", "0", "xenbr1", mtu.ToString(System.Globalization.CultureInfo.InvariantCulture)];
        if (rate is not null)
            args = [.. args, rate];
        var (code, output) = await SimxenCReference.RunAsync(Path.Combine(build, "sxtool"), reference.XenStoreSocket, args);
        Assert.True(code == 0, $"sxtool add failed ({code}): {output}");

        var expected = await XenStoreTreeDump.DumpAsync(referenceStore, "/local");
        var actual = await XenStoreTreeDump.DumpAsync(ourStore, "/local");
        Assert.Equal(expected, actual);

        // And removal: sxtool del against ours leaves what our RemoveVifAsync leaves against theirs.
        await new SimToolstack(referenceStore).RemoveVifAsync(5, 1);
        (code, output) = await SimxenCReference.RunAsync(Path.Combine(build, "sxtool"), ours.XenStoreSocket, "del", "5", "1");
        Assert.True(code == 0, $"sxtool del failed ({code}): {output}");
        Assert.Equal(await XenStoreTreeDump.DumpAsync(referenceStore, "/local"), await XenStoreTreeDump.DumpAsync(ourStore, "/local"));
    }
}
