using System.CommandLine;
using System.Globalization;
using System.Net;
using Backend.Xen.Abi;
using Backend.Xen.Platform.Sim.Netfront;
using Backend.Xen.XenStore;

namespace Backend.Host.Cli;

/// <summary>
/// <c>sim-guest</c>: one simulated guest (a netfront like Linux's) as its own process, so that guest and
/// daemon live in different processes as on real Xen. It answers ARP and ping, pings a peer, or streams.
/// </summary>
public static class SimGuestCommand
{
    public static Command Create()
    {
        var simRoot = new Option<string>("--sim-root") { Description = "SIMXEN root.", Required = true };
        var domid = new Option<int>("--domid") { Description = "This guest's domain id.", Required = true };
        var handle = new Option<int>("--handle") { Description = "The vif handle (default 0).", DefaultValueFactory = _ => 0 };
        var backend = new Option<int>("--backend-domid") { Description = "The backend domain (default 0).", DefaultValueFactory = _ => 0 };
        var ip = new Option<string>("--ip") { Description = "This guest's IPv4 address.", Required = true };
        var mac = new Option<string?>("--mac") { Description = "MAC (with --create-vif; otherwise read from the frontend dir)." };
        var mode = new Option<string>("--mode") { Description = "echo (answer ARP/ping; default), ping or stream.", DefaultValueFactory = _ => "echo" };
        var peer = new Option<string?>("--peer-ip") { Description = "The peer to ping or stream to." };
        var count = new Option<int>("--count") { Description = "Pings or frames to send (default 4).", DefaultValueFactory = _ => 4 };
        var size = new Option<int>("--frame-size") { Description = "Stream frame size in bytes (default 1514).", DefaultValueFactory = _ => 1514 };
        var createVif = new Option<bool>("--create-vif") { Description = "Play the toolstack too: create the vif first, remove it at the end." };
        var bridge = new Option<string>("--bridge") { Description = "Bridge for --create-vif (default xenbr0).", DefaultValueFactory = _ => "xenbr0" };
        var split = new Option<bool>("--split-event-channels") { Description = "Use separate TX and RX event channels." };

        var command = new Command("sim-guest", "Run one simulated guest (netfront) in this process.")
        {
            simRoot, domid, handle, backend, ip, mac, mode, peer, count, size, createVif, bridge, split,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            if (!IPAddress.TryParse(parse.GetRequiredValue(ip), out var address))
                return Fail($"--ip: '{parse.GetRequiredValue(ip)}' is not an IPv4 address");
            IPAddress? peerAddress = null;
            if (parse.GetValue(peer) is { } peerText && !IPAddress.TryParse(peerText, out peerAddress))
                return Fail($"--peer-ip: '{peerText}' is not an IPv4 address");
            var modeText = parse.GetValue(mode)!;
            if (!Enum.TryParse<SimGuestMode>(modeText, ignoreCase: true, out var guestMode))
                return Fail($"--mode: '{modeText}' is not echo, ping or stream");
            var d = parse.GetRequiredValue(domid);
            var b = parse.GetValue(backend);
            if (d < 1 || !DomId.IsDomain(d) || !DomId.IsDomain(b))
                return Fail($"--domid must be 1 to {DomId.Max} and --backend-domid 0 to {DomId.Max}");

            var options = new SimGuestOptions
            {
                Root = parse.GetRequiredValue(simRoot),
                DomId = (ushort)d,
                Handle = parse.GetValue(handle),
                BackendDomId = (ushort)b,
                Ip = address,
                Mac = parse.GetValue(mac),
                Mode = guestMode,
                PeerIp = peerAddress,
                Count = parse.GetValue(count),
                FrameSize = parse.GetValue(size),
                CreateVif = parse.GetValue(createVif),
                Bridge = parse.GetValue(bridge)!,
                SplitEventChannels = parse.GetValue(split),
            };
            try
            {
                options.Validate();
                var result = await SimGuestRunner.RunAsync(options, cancellationToken);
                Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"RESULT sent={result.Counters.Sent} received={result.Counters.Received} tx-errors={result.Counters.TxErrors} pings-answered={result.RoundTrips.Count} pings-lost={result.PingsLost} echo-answered={result.EchoAnswered}"));
                return guestMode == SimGuestMode.Ping && result.RoundTrips.Count == 0 ? 1 : 0;
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return 0;
            }
            catch (Exception ex) when (ex is ArgumentException or IOException or InvalidOperationException or TimeoutException or XenStoreErrorException or System.Net.Sockets.SocketException)
            {
                return Fail(ex.Message);
            }
        });
        return command;
    }

    private static int Fail(string message)
    {
        Console.Error.WriteLine($"xnb sim-guest: {message}");
        return 2;
    }
}
