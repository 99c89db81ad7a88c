using System.Net.Sockets;
using Backend.Xen.Platform.Linux;
using Backend.Xen.Platform.Native;

namespace Backend.Xen.Tests.Linux;

public sealed class XenBusDeviceTests : IDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("xnb-xenbus-");

    public void Dispose() => _dir.Delete(recursive: true);

    private string In(string name) => Path.Combine(_dir.FullName, name);

    /// <summary>
    /// A connected SOCK_SEQPACKET pair: each write(2) on one end is one packet on the other, so the peer
    /// sees exactly how many write calls the stream made and with what lengths.
    /// </summary>
    private (Socket Ours, Socket Peer) SeqPacketPair()
    {
        using var listener = new Socket(AddressFamily.Unix, SocketType.Seqpacket, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(In("seq")));
        listener.Listen(1);
        var ours = new Socket(AddressFamily.Unix, SocketType.Seqpacket, ProtocolType.Unspecified);
        ours.Connect(new UnixDomainSocketEndPoint(In("seq")));
        return (ours, listener.Accept());
    }

    private static XenBusStream StreamOver(Socket socket) =>
        new(new FileDescriptor((int)socket.Handle, "xenbus stand-in", ownsHandle: false));

    [Fact]
    public async Task Each_write_is_exactly_one_write_call_of_the_whole_message()
    {
        var (ours, peer) = SeqPacketPair();
        using (ours)
        using (peer)
        using (var stream = StreamOver(ours))
        {
            stream.Write(new byte[16 + 21]);
            await stream.WriteAsync(new byte[16 + 300]);
            stream.Write(new byte[16], 0, 16);

            var packet = new byte[1024];
            Assert.Equal(37, peer.Receive(packet));
            Assert.Equal(316, peer.Receive(packet));
            Assert.Equal(16, peer.Receive(packet));
        }
    }

    [Fact]
    public async Task Read_returns_what_one_read_call_returns()
    {
        var (ours, peer) = SeqPacketPair();
        using (ours)
        using (peer)
        using (var stream = StreamOver(ours))
        {
            peer.Send([1, 2, 3, 4, 5]);
            var buffer = new byte[64];
            Assert.Equal(5, await stream.ReadAsync(buffer).AsTask().WaitAsync(Patience));
            Assert.Equal([1, 2, 3, 4, 5], buffer[..5]);
        }
    }

    [Fact]
    public async Task A_pending_read_does_not_hold_up_a_write_and_dispose_ends_it()
    {
        var (ours, peer) = SeqPacketPair();
        using (ours)
        using (peer)
        {
            var stream = StreamOver(ours);
            var read = stream.ReadAsync(new byte[64]).AsTask();
            await stream.WriteAsync(new byte[20]).AsTask().WaitAsync(Patience);
            Assert.Equal(20, peer.Receive(new byte[64]));
            Assert.False(read.IsCompleted);

            stream.Dispose();
            Assert.Equal(0, await read.WaitAsync(Patience));
            Assert.Throws<ObjectDisposedException>(() => stream.Write(new byte[1]));
        }
    }

    [Fact]
    public void The_sockets_are_preferred_in_order_then_the_device_as_libxenstore_does()
    {
        var device = In("xenbus");
        var run = In("run-socket");
        var varRun = In("var-run-socket");
        var xenBus = new XenBusDevice(device, [run, varRun]);
        Assert.Null(xenBus.ChoosePath());
        File.WriteAllText(device, "");
        Assert.Equal(device, xenBus.ChoosePath());
        File.WriteAllText(varRun, "");
        Assert.Equal(varRun, xenBus.ChoosePath());
        File.WriteAllText(run, "");
        Assert.Equal(run, xenBus.ChoosePath());
    }

    [Fact]
    public void Nothing_there_is_an_error_naming_the_device_and_every_socket()
    {
        var xenBus = new XenBusDevice(In("xenbus"), [In("a"), In("b")]);
        var e = Assert.Throws<LinuxDeviceException>(xenBus.OpenStream);
        Assert.Contains(In("xenbus"), e.Message);
        Assert.Contains(In("a"), e.Message);
        Assert.Contains(In("b"), e.Message);
    }

    [Fact]
    public async Task Without_the_device_the_xenstored_socket_is_used()
    {
        using var xenstored = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        xenstored.Bind(new UnixDomainSocketEndPoint(In("socket")));
        xenstored.Listen(1);

        await using var stream = new XenBusDevice(In("xenbus"), [In("missing"), In("socket")]).OpenStream();
        using var server = await xenstored.AcceptAsync().WaitAsync(Patience);
        await stream.WriteAsync(new byte[] { 7, 8, 9 });
        var received = new byte[3];
        Assert.Equal(3, await server.ReceiveAsync(received).WaitAsync(Patience));
        Assert.Equal([7, 8, 9], received);
    }
}
