using System.CommandLine;
using System.Globalization;
using Backend.Host.Hosting;
using Backend.Xen.Abi;
using Backend.Xen.Platform.Sim;
using Backend.Xen.Platform.Sim.Toolstack;
using Backend.Xen.XenStore;

namespace Backend.Host.Cli;

/// <summary>
/// <c>toolstack add|remove|unplug|destroy</c>: the toolstack's part of SIMXEN from the command line,
/// writing what libxl writes (in one transaction), so a person can create a guest's vif by hand and
/// watch it with <c>xenstore-ls</c>.
/// </summary>
public static class ToolstackCommand
{
    public static Command Create()
    {
        var command = new Command("toolstack", "Create, unplug or remove simulated vifs and guests (SIMXEN's toolstack part).");
        command.Add(Add());
        command.Add(Simple("remove", "Remove a vif: backend dir, frontend dir and error node.", (t, root, g, h, b) => t.RemoveVifAsync(g, h, b)));
        command.Add(Simple("unplug", "Detach a vif as libxl does: online=0, backend state Closing.", (t, root, g, h, b) => t.UnplugVifAsync(g, h, b)));
        var destroy = Simple("destroy", "Remove all of a guest's vifs, then ROOT/dom<G>/.", (t, root, g, _, b) => t.DestroyGuestAsync(root, g, b));
        command.Add(destroy);
        return command;
    }

    private static Option<string> SimRootOption() => new("--sim-root") { Description = "SIMXEN root.", Required = true };
    private static Option<int> GuestOption() => new("--guest") { Description = "The guest (frontend) domain id.", Required = true };
    private static Option<int> HandleOption() => new("--handle") { Description = "The vif handle (default 0).", DefaultValueFactory = _ => 0 };
    private static Option<int> BackendOption() => new("--backend-domid") { Description = "The backend domain id (default 0).", DefaultValueFactory = _ => 0 };

    private static Command Add()
    {
        var simRoot = SimRootOption();
        var guest = GuestOption();
        var handle = HandleOption();
        var backend = BackendOption();
        var mac = new Option<string>("--mac") { Description = "MAC address, xx:xx:xx:xx:xx:xx.", Required = true };
        var bridge = new Option<string>("--bridge") { Description = "Bridge name (default xenbr0).", DefaultValueFactory = _ => SimVifSpec.DefaultBridge };
        var mtu = new Option<int>("--mtu") { Description = "MTU (default 1500).", DefaultValueFactory = _ => SimVifSpec.DefaultMtu };
        var rate = new Option<string?>("--rate") { Description = "Transmit limit as libxl writes it: BYTES,USEC." };
        var add = new Command("add", "Create a vif for a guest, as libxl does.") { simRoot, guest, handle, backend, mac, bridge, mtu, rate };
        add.SetAction((parse, ct) => RunAsync(parse.GetRequiredValue(simRoot), parse.GetRequiredValue(guest), parse.GetValue(handle), parse.GetValue(backend),
            async (toolstack, _, g, h, b) =>
            {
                SimVifRate? limit = null;
                if (parse.GetValue(rate) is { } text)
                {
                    var parts = text.Split(',');
                    if (parts.Length != 2 || !ulong.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var bytes)
                        || !uint.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var usec) || bytes == 0 || usec == 0)
                        throw new ArgumentException($"--rate: '{text}' is not BYTES,USEC with both above 0");
                    limit = new SimVifRate(bytes, usec);
                }
                var spec = new SimVifSpec
                {
                    GuestDomId = g, Handle = h, BackendDomId = b, Mac = parse.GetRequiredValue(mac),
                    Bridge = parse.GetValue(bridge)!, Mtu = parse.GetValue(mtu), Rate = limit,
                };
                spec.Validate();
                await toolstack.CreateVifAsync(spec);
            }, ct));
        return add;
    }

    private static Command Simple(string name, string description, Func<SimToolstack, SimRoot, ushort, int, ushort, Task> action)
    {
        var simRoot = SimRootOption();
        var guest = GuestOption();
        var handle = HandleOption();
        var backend = BackendOption();
        var command = new Command(name, description) { simRoot, guest, handle, backend };
        command.SetAction((parse, ct) => RunAsync(parse.GetRequiredValue(simRoot), parse.GetRequiredValue(guest), parse.GetValue(handle), parse.GetValue(backend), action, ct));
        return command;
    }

    private static async Task<int> RunAsync(string rootPath, int guest, int handle, int backend, Func<SimToolstack, SimRoot, ushort, int, ushort, Task> action, CancellationToken ct)
    {
        if (guest < 1 || !DomId.IsDomain(guest) || !DomId.IsDomain(backend))
        {
            Console.Error.WriteLine($"xnb toolstack: --guest must be 1 to {DomId.Max} and --backend-domid 0 to {DomId.Max}");
            return 2;
        }
        if (rootPath.Length is 0 or > DaemonSettings.MaxSimRootLength || !Directory.Exists(rootPath))
        {
            Console.Error.WriteLine($"xnb toolstack: --sim-root {rootPath}: not an existing directory of at most {DaemonSettings.MaxSimRootLength} characters");
            return 2;
        }
        try
        {
            var root = new SimRoot(rootPath);
            await using var store = await XenStoreClient.ConnectAsync(Path.Combine(root.Path, "xenstored.sock"), ct);
            await action(new SimToolstack(store), root, (ushort)guest, handle, (ushort)backend);
            return 0;
        }
        catch (Exception ex) when (ex is ArgumentException or IOException or InvalidOperationException or XenStoreErrorException or System.Net.Sockets.SocketException)
        {
            Console.Error.WriteLine($"xnb toolstack: {ex.Message}");
            return 1;
        }
    }
}
