using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Text.Json;
using Backend.Host.Tests.Support;
using Backend.Xen.Abi;
using Backend.Xen.Platform.Sim;
using Backend.Xen.Platform.Sim.Netfront;
using Backend.Xen.Platform.Sim.Toolstack;
using Backend.Xen.XenStore;

namespace Backend.Host.Tests.EndToEnd;

/// <summary>
/// Multicast control against the daemon run as SIMXEN's outside launcher runs it (issue 15, item 3;
/// decision 83): a sender and three guests on one bridge, one that asked for multicast control and
/// joined a group, one that asked and joined none, one that did not ask. A multicast frame reaches
/// exactly the guests that joined its group or did not ask; broadcast reaches all; the 65th address is
/// answered ERROR and opens the filter; a delete, turning control off while connected, and addresses
/// Linux takes without looking (unicast, broadcast, zero) are answered as Linux answers them.
/// </summary>
public sealed class MulticastControlEndToEndTests
{
    private static readonly TimeSpan Start = TimeSpan.FromSeconds(60);
    private const ushort Sender = 61;
    private const ushort Joined = 62;
    private const ushort Silent = 63;
    private const ushort Uncontrolled = 64;
    private static readonly MacAddress Group = new(0x01005E0000FB);
    private static readonly MacAddress OtherGroup = new(0x333300000001);

    /// <summary>The frames a guest received: their destination and the sequence number the test put in them.</summary>
    private sealed class Recorder : ISimFrameConsumer
    {
        public readonly ConcurrentQueue<(MacAddress Destination, int Seq)> Frames = new();

        public void OnFrame(ReadOnlySpan<byte> frame, in SimRxFrameInfo info)
        {
            if (frame.Length >= 18 && BinaryPrimitives.ReadUInt16BigEndian(frame[12..]) == 0x88B5)
                Frames.Enqueue((MacAddress.Read(frame), BinaryPrimitives.ReadInt32BigEndian(frame[14..])));
        }

        public MacAddress[] Since(int seq) => [.. Frames.Where(f => f.Seq > seq).OrderBy(f => f.Seq).Select(f => f.Destination)];
    }

    private sealed class Bed : IAsyncDisposable
    {
        private readonly List<IAsyncDisposable> _owned = [];
        private int _seq;

        public required HttpClient Http { get; init; }
        public SimNetfront Sender { get; private set; } = null!;
        public SimNetfront Joined { get; private set; } = null!;
        public SimNetfront Silent { get; private set; } = null!;
        public SimNetfront Uncontrolled { get; private set; } = null!;
        public Recorder JoinedFrames { get; } = new();
        public Recorder SilentFrames { get; } = new();
        public Recorder UncontrolledFrames { get; } = new();
        public required CancellationToken Token { get; init; }
        private SimTestRoot _root = null!;
        private DaemonProcess _daemon = null!;

        public static async Task<Bed> StartAsync(CancellationToken token)
        {
            var root = new SimTestRoot();
            var daemon = DaemonProcess.Start("--sim-root", root.Path);
            var url = (await daemon.WaitForLineAsync("ADMIN_URL=", MulticastControlEndToEndTests.Start))["ADMIN_URL=".Length..];
            await daemon.WaitForLineAsync("READY", MulticastControlEndToEndTests.Start);
            var bed = new Bed { Http = new HttpClient { BaseAddress = new Uri(url) }, Token = token, _root = root, _daemon = daemon };
            var socket = Path.Combine(root.Path, "xenstored.sock");
            var xs = await XenStoreClient.ConnectAsync(socket);
            bed._owned.Add(xs);
            var toolstack = new SimToolstack(xs);
            foreach (var domid in new[] { MulticastControlEndToEndTests.Sender, MulticastControlEndToEndTests.Joined, MulticastControlEndToEndTests.Silent, MulticastControlEndToEndTests.Uncontrolled })
                await toolstack.CreateVifAsync(new SimVifSpec { GuestDomId = domid, Handle = 0, Mac = $"00:16:3e:00:00:{domid:x2}" });
            var simRoot = new SimRoot(root.Path);
            async Task<SimNetfront> Guest(ushort domid, bool control, ISimFrameConsumer? consumer)
            {
                var store = await XenStoreClient.ConnectAsync(socket);
                bed._owned.Add(store);
                var guest = await SimNetfront.StartAsync(new SimNetfrontOptions { Root = simRoot, DomId = domid, RequestMulticastControl = control }, store, consumer);
                bed._owned.Insert(0, guest);
                return guest;
            }
            bed.Sender = await Guest(MulticastControlEndToEndTests.Sender, false, null);
            bed.Joined = await Guest(MulticastControlEndToEndTests.Joined, true, bed.JoinedFrames);
            bed.Silent = await Guest(MulticastControlEndToEndTests.Silent, true, bed.SilentFrames);
            bed.Uncontrolled = await Guest(MulticastControlEndToEndTests.Uncontrolled, false, bed.UncontrolledFrames);
            foreach (var guest in new[] { bed.Sender, bed.Joined, bed.Silent, bed.Uncontrolled })
                await guest.WaitForConnectedAsync(token);
            // Carrier on everywhere before traffic: a flood goes only to connected ports.
            foreach (var domid in new[] { MulticastControlEndToEndTests.Joined, MulticastControlEndToEndTests.Silent, MulticastControlEndToEndTests.Uncontrolled })
                await Until(async () => (await bed.VifAsync(domid)).GetProperty("carrier").GetBoolean(), token);
            return bed;
        }

        /// <summary>
        /// Sends a frame to each of <paramref name="destinations"/> from the sender, then a broadcast, and
        /// waits until every guest has the broadcast (frames from one port to another keep their order, so
        /// whatever was to reach a guest has then reached it). Returns the sequence number before them.
        /// </summary>
        public async Task<int> SendAsync(params MacAddress[] destinations)
        {
            var before = _seq;
            foreach (var destination in destinations.Append(MacAddress.Broadcast))
            {
                var frame = new byte[60];
                destination.Write(frame);
                Sender.Mac.Span.CopyTo(frame.AsSpan(6)); // its configured mac: the bridge drops any other
                BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(12), 0x88B5);
                BinaryPrimitives.WriteInt32BigEndian(frame.AsSpan(14), ++_seq);
                await Sender.SendAsync(frame, default, Token);
            }
            var last = _seq;
            foreach (var recorder in new[] { JoinedFrames, SilentFrames, UncontrolledFrames })
                await Until(() => Task.FromResult(recorder.Frames.Any(f => f.Seq == last)), Token);
            return before;
        }

        public async Task<JsonElement> VifAsync(ushort domid)
        {
            using var status = JsonDocument.Parse(await Http.GetStringAsync("/status", Token));
            return status.RootElement.GetProperty("vifs").EnumerateArray().Single(v => v.GetProperty("domId").GetInt32() == domid).Clone();
        }

        public async Task<long> FilteredAsync(ushort domid) =>
            (await VifAsync(domid)).GetProperty("counters").GetProperty("rxMulticastFiltered").GetInt64();

        public async ValueTask DisposeAsync()
        {
            foreach (var owned in _owned)
                await owned.DisposeAsync();
            Http.Dispose();
            await _daemon.DisposeAsync();
            _root.Dispose();
        }
    }

    private static async Task Until(Func<Task<bool>> condition, CancellationToken cancellationToken)
    {
        while (!await condition())
            await Task.Delay(20, cancellationToken);
    }

    [Fact]
    public async Task A_multicast_frame_reaches_exactly_the_guests_that_joined_its_group_or_did_not_ask_until_one_deletes_it_or_turns_control_off()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        await using var bed = await Bed.StartAsync(cts.Token);
        Assert.Equal(NetifResponseStatus.Okay, await bed.Joined.SendMulticastControlAsync(NetifExtraType.MulticastAdd, Group, cts.Token));
        var joined = await bed.VifAsync(Joined);
        Assert.True(joined.GetProperty("multicast").GetProperty("control").GetBoolean(), "request-multicast-control=1 was written before Connected");
        Assert.Equal(1, joined.GetProperty("multicast").GetProperty("addresses").GetInt32());
        Assert.False((await bed.VifAsync(Uncontrolled)).GetProperty("multicast").GetProperty("control").GetBoolean());

        var seq = await bed.SendAsync(Group, OtherGroup);
        Assert.Equal([Group, MacAddress.Broadcast], bed.JoinedFrames.Since(seq));
        Assert.Equal([MacAddress.Broadcast], bed.SilentFrames.Since(seq));
        Assert.Equal([Group, OtherGroup, MacAddress.Broadcast], bed.UncontrolledFrames.Since(seq));
        Assert.Equal(1, await bed.FilteredAsync(Joined));
        Assert.Equal(2, await bed.FilteredAsync(Silent));
        Assert.Equal(0, await bed.FilteredAsync(Uncontrolled));
        var metrics = await bed.Http.GetStringAsync("/metrics", cts.Token);
        Assert.Contains($"xnb_vif_rx_multicast_filtered_total{{vif=\"vif{Silent}.0\",device=\"vif{Silent}.0\",domid=\"{Silent}\",handle=\"0\"}} 2\n", metrics, StringComparison.Ordinal);
        Assert.Contains($"xnb_vif_multicast_control{{vif=\"vif{Joined}.0\",device=\"vif{Joined}.0\",domid=\"{Joined}\",handle=\"0\"}} 1\n", metrics, StringComparison.Ordinal);

        // MCAST_DEL: always OKAY (Linux), and the group is filtered again.
        Assert.Equal(NetifResponseStatus.Okay, await bed.Joined.SendMulticastControlAsync(NetifExtraType.MulticastDel, Group, cts.Token));
        seq = await bed.SendAsync(Group);
        Assert.Equal([MacAddress.Broadcast], bed.JoinedFrames.Since(seq));

        // feature-dynamic-multicast-control: the silent guest turns control off while connected.
        await bed.Silent.SetMulticastControlAsync(false, cts.Token);
        await Until(async () => !(await bed.VifAsync(Silent)).GetProperty("multicast").GetProperty("control").GetBoolean(), cts.Token);
        seq = await bed.SendAsync(Group);
        Assert.Equal([Group, MacAddress.Broadcast], bed.SilentFrames.Since(seq));
        Assert.Equal([MacAddress.Broadcast], bed.JoinedFrames.Since(seq));
    }

    [Fact]
    public async Task The_65th_address_is_answered_error_and_opens_the_filter_and_addresses_Linux_takes_without_looking_are_answered_okay()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        await using var bed = await Bed.StartAsync(cts.Token);
        // As Linux's xenvif_mcast_add: any address is taken, a duplicate included, each an entry.
        foreach (var hostile in new[] { new MacAddress(0x00163E000099), MacAddress.Broadcast, new MacAddress(0), Group, Group })
            Assert.Equal(NetifResponseStatus.Okay, await bed.Joined.SendMulticastControlAsync(NetifExtraType.MulticastAdd, hostile, cts.Token));
        // A delete of an address never added: OKAY, nothing changes.
        Assert.Equal(NetifResponseStatus.Okay, await bed.Joined.SendMulticastControlAsync(NetifExtraType.MulticastDel, OtherGroup, cts.Token));
        for (var i = 5; i < 64; i++)
            Assert.Equal(NetifResponseStatus.Okay, await bed.Joined.SendMulticastControlAsync(NetifExtraType.MulticastAdd, new MacAddress(0x01005E010000UL + (uint)i), cts.Token));
        Assert.Equal(64, (await bed.VifAsync(Joined)).GetProperty("multicast").GetProperty("addresses").GetInt32());
        var seq = await bed.SendAsync(OtherGroup);
        Assert.Equal([MacAddress.Broadcast], bed.JoinedFrames.Since(seq));

        Assert.Equal(NetifResponseStatus.Error, await bed.Joined.SendMulticastControlAsync(NetifExtraType.MulticastAdd, OtherGroup, cts.Token));
        var full = (await bed.VifAsync(Joined)).GetProperty("multicast");
        Assert.Equal(64, full.GetProperty("addresses").GetInt32());
        Assert.True(full.GetProperty("acceptsAll").GetBoolean());
        seq = await bed.SendAsync(OtherGroup);
        Assert.Equal([OtherGroup, MacAddress.Broadcast], bed.JoinedFrames.Since(seq));

        // The guest leaves the group it was refused: filtering again.
        Assert.Equal(NetifResponseStatus.Okay, await bed.Joined.SendMulticastControlAsync(NetifExtraType.MulticastDel, OtherGroup, cts.Token));
        Assert.False((await bed.VifAsync(Joined)).GetProperty("multicast").GetProperty("acceptsAll").GetBoolean());
        seq = await bed.SendAsync(OtherGroup, Group);
        Assert.Equal([Group, MacAddress.Broadcast], bed.JoinedFrames.Since(seq));
        // The one ERROR answered is the refused add.
        Assert.Equal(1, (await bed.VifAsync(Joined)).GetProperty("counters").GetProperty("txErrors").GetInt64());
    }
}
