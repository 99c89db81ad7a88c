using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using Backend.Host.Admin;
using Backend.Host.Fleet;

namespace Backend.Host.Tests.Support;

/// <summary>
/// One daemon of a test fleet: its own SIMXEN root (xenstore served by this test process, so the root
/// outlives a killed daemon and a restarted one re-attaches), its remoting port on loopback, and the
/// cluster settings given as <c>XNB_CLUSTER__*</c> variables, as an admin's environment file would.
/// </summary>
public sealed class FleetNode : IAsyncDisposable
{
    private readonly IReadOnlyDictionary<string, string> _environment;
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(10) };

    private FleetNode(SimTestRoot root, int port, IReadOnlyDictionary<string, string> environment)
    {
        Root = root;
        Port = port;
        _environment = environment;
    }

    public SimTestRoot Root { get; }

    public int Port { get; }

    public string Address => AddressOf(Port, _environment.ContainsKey("XNB_CLUSTER__TLS__CERTIFICATE"));

    public DaemonProcess? Daemon { get; private set; }

    public string AdminUrl { get; private set; } = "";

    /// <summary>The node's address in the fleet: Akka.Remote's TLS transport names itself akka.ssl.tcp.</summary>
    public static string AddressOf(int port, bool tls = false) => $"{(tls ? "akka.ssl.tcp" : "akka.tcp")}://xnb@127.0.0.1:{port}";

    /// <summary>A loopback port nobody listens on right now.</summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <param name="extra">More settings (TLS, ...) as XNB_ variables.</param>
    public static async Task<FleetNode> CreateAsync(int port, IEnumerable<string> seeds, IReadOnlyDictionary<string, string>? extra = null)
    {
        var root = await SimTestRoot.WithXenStoreAsync();
        var environment = new Dictionary<string, string>
        {
            ["XNB_CLUSTER__ENABLED"] = "true",
            ["XNB_CLUSTER__PORT"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            // Short for the test: the resolver downs a killed node 3 s after the view is stable (Akka's default is 20 s).
            ["XNB_CLUSTER__STABLEAFTERSECONDS"] = "3",
        };
        var i = 0;
        foreach (var seed in seeds)
            environment[$"XNB_CLUSTER__SEEDS__{i++}"] = seed;
        foreach (var (key, value) in extra ?? new Dictionary<string, string>())
            environment[key] = value;
        return new FleetNode(root, port, environment);
    }

    /// <summary>Starts (or starts again) the daemon and waits for READY.</summary>
    public async Task StartAsync(TimeSpan timeout)
    {
        Daemon = DaemonProcess.Start(_environment, "--sim-root", Root.Path);
        AdminUrl = (await Daemon.WaitForLineAsync("ADMIN_URL=", timeout))["ADMIN_URL=".Length..];
        await Daemon.WaitForLineAsync("READY", timeout);
    }

    /// <summary>SIGKILL: no leaving the cluster, no goodbye; the others must find out.</summary>
    public async Task KillAsync()
    {
        var daemon = Daemon!;
        daemon.Signal(9);
        await daemon.WaitForExitAsync(TimeSpan.FromSeconds(20));
        await daemon.DisposeAsync();
        Daemon = null;
    }

    public async Task<FleetDocument> FleetAsync(CancellationToken cancellationToken)
    {
        using var response = await _http.GetAsync(AdminUrl + "/fleet", cancellationToken);
        if (!response.IsSuccessStatusCode)
            throw new HttpRequestException($"{Address}: GET /fleet answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync(cancellationToken)}\nstderr:\n{Daemon?.Stderr}");
        return (await response.Content.ReadFromJsonAsync<FleetDocument>(AdminJson.Options, cancellationToken))!;
    }

    /// <summary>Polls <c>/fleet</c> until <paramref name="done"/> holds; the last document seen goes into the failure.</summary>
    public async Task<FleetDocument> WaitForFleetAsync(Func<FleetDocument, bool> done, TimeSpan timeout, string what)
    {
        using var cts = new CancellationTokenSource(timeout);
        FleetDocument? last = null;
        try
        {
            while (true)
            {
                last = await FleetAsync(cts.Token);
                if (done(last))
                    return last;
                await Task.Delay(200, cts.Token);
            }
        }
        catch (OperationCanceledException)
        {
        }
        throw new TimeoutException($"{Address}: not {what} within {timeout}; last /fleet: {System.Text.Json.JsonSerializer.Serialize(last, AdminJson.Options)}\nstderr:\n{Daemon?.Stderr}");
    }

    public async ValueTask DisposeAsync()
    {
        if (Daemon is not null)
            await Daemon.DisposeAsync();
        _http.Dispose();
        await Root.DisposeAsync();
    }
}
