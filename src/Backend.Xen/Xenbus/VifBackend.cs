using Backend.Xen.Abi;
using Backend.Xen.XenStore;

namespace Backend.Xen.Xenbus;

/// <summary>
/// One vif's backend device in xenstore, as Linux netback's <c>xenbus.c</c> drives it through its
/// <c>xenbus_device</c>: the state it last wrote, the reads of its own and its frontend's keys, the watched
/// nodes, and the transactions of <c>xenbus_client.c</c> (<see cref="SwitchStateAsync"/>,
/// <see cref="DevFatalAsync"/>). What to do on a state change is the caller's part (VifConnectionActor).
/// Not thread-safe: one owner calls it, one call at a time.
/// </summary>
/// <param name="maxQueues">
/// Linux's <c>xenvif_max_queues</c>: published as <c>multi-queue-max-queues</c> with the other features, and
/// the most a frontend's <c>multi-queue-num-queues</c> may ask for (1 to <see cref="FrontendConfig.MaxQueuesLimit"/>).
/// </param>
public sealed class VifBackend(IXenStore xenStore, VifPaths paths, int maxQueues = 1)
{
    private const string HotplugStatusKey = "hotplug-status";
    private const string RateKey = "rate";
    private const string MulticastControlKey = "request-multicast-control";

    /// <summary>What the hotplug script writes to <c>hotplug-status</c> once the device is up and on its bridge.</summary>
    public const string HotplugConnected = "connected";

    public VifPaths Paths { get; } = paths;

    /// <summary>The backend's state as last read or written by us (Linux's <c>dev-&gt;state</c>).</summary>
    public XenbusState State { get; private set; } = XenbusState.Unknown;

    /// <summary>The frontend's directory, as the backend's <c>frontend</c> key last read named it (Linux's <c>dev-&gt;otherend</c>).</summary>
    public string? FrontendPath { get; private set; }

    /// <summary>The frontend state last returned by <see cref="ReadFrontendStateChangeAsync"/>: the one acted on.</summary>
    public XenbusState? FrontendState { get; private set; }

    /// <summary>Reads the toolstack's keys (<see cref="BackendConfig"/>), and with them <see cref="FrontendPath"/>.</summary>
    public async Task<BackendConfig> ReadConfigAsync()
    {
        var config = await BackendConfig.ReadAsync(xenStore, Paths);
        FrontendPath = config.FrontendPath;
        return config;
    }

    /// <summary>
    /// Reads the backend's <c>state</c> into <see cref="State"/> (a daemon that starts again finds it
    /// Connected) and, in the same round trip, <c>hotplug-status</c>, which it returns (null when the node
    /// does not exist).
    /// </summary>
    public async Task<string?> ReadStateAndHotplugStatusAsync()
    {
        var state = xenStore.ReadAsync(Paths.Backend("state"));
        var hotplug = ReadHotplugStatusAsync();
        await Task.WhenAll(state, hotplug);
        State = XenbusStateText.Parse(state.Result);
        return hotplug.Result;
    }

    /// <summary>The hotplug script's verdict; null when the node does not exist.</summary>
    public Task<string?> ReadHotplugStatusAsync() => xenStore.ReadAsync(Paths.Backend(HotplugStatusKey));

    /// <summary>As Linux netback: without a <c>hotplug-status</c> node there is no script to wait for.</summary>
    public static bool IsHotplugConnected(string? hotplugStatus) => hotplugStatus is null or HotplugConnected;

    /// <summary>
    /// Whether <paramref name="hotplugStatus"/> lets the vif connect; with <paramref name="playScript"/>
    /// (SIMXEN, where no script runs) a node that exists and does not read connected is first written
    /// connected, as the script would, unless the toolstack removed the vif meanwhile.
    /// </summary>
    public async Task<bool> CompleteHotplugAsync(string? hotplugStatus, bool playScript)
    {
        if (playScript && !IsHotplugConnected(hotplugStatus) && await WriteWhileBackendExistsAsync([new(HotplugStatusKey, HotplugConnected)]))
            return true;
        return IsHotplugConnected(hotplugStatus);
    }

    /// <summary>
    /// The toolstack's <c>rate</c> as Linux's <c>xen_net_rate_changed</c> reads it again: null when there is
    /// none or it is malformed (unlimited; the malformed text in the second item).
    /// </summary>
    public async Task<(RateLimit? Rate, string? Malformed)> ReadRateAsync() =>
        BackendConfig.ReadRate(await xenStore.ReadAsync(Paths.Backend(RateKey)));

    /// <summary>The frontend's <c>xdp-headroom</c> as Linux's <c>read_xenbus_frontend_xdp</c> reads it at Reconfiguring (<see cref="FrontendConfig.ParseXdpHeadroom"/>).</summary>
    public async Task<ushort> ReadXdpHeadroomAsync() =>
        FrontendConfig.ParseXdpHeadroom(await xenStore.ReadAsync($"{OtherEnd}/xdp-headroom"));

    /// <summary>The frontend's <c>request-multicast-control</c>, sampled again at its watch event (Linux's <c>xen_mcast_ctrl_changed</c>).</summary>
    public async Task<bool> ReadMulticastControlAsync() =>
        FrontendConfig.ParseMulticastControl(await xenStore.ReadAsync($"{OtherEnd}/{MulticastControlKey}"));

    /// <summary>The device name the hotplug script gave the vif (<c>vifname</c>), or null.</summary>
    public Task<string?> ReadVifNameAsync() => xenStore.ReadAsync(Paths.Backend("vifname"));

    /// <summary>The toolstack's <c>online</c>: a vif that goes Closed while offline is to be forgotten.</summary>
    public async Task<bool> ReadOnlineAsync() => await xenStore.ReadAsync(Paths.Backend("online")) == "1";

    /// <summary>
    /// The frontend's <c>state</c>, or null when it is the one last returned: SIMXEN's backend acts when the
    /// state differs from the value it last acted on (a watch event that repeats a state does nothing).
    /// </summary>
    public async Task<XenbusState?> ReadFrontendStateChangeAsync()
    {
        var state = XenbusStateText.Parse(await xenStore.ReadAsync($"{OtherEnd}/state"));
        if (state == FrontendState)
            return null;
        FrontendState = state;
        return state;
    }

    private string OtherEnd => FrontendPath ?? throw new InvalidOperationException($"{Paths.Vif}: the backend's keys are not read yet");

    /// <summary>
    /// Sets the watches on the frontend's <c>state</c>, on <c>hotplug-status</c> and, given
    /// <paramref name="onRate"/>, on <c>rate</c> (Linux's <c>xen_register_credit_watch</c>) together (one round
    /// trip) and, given <paramref name="onMulticastControl"/>, on the frontend's
    /// <c>request-multicast-control</c> (Linux's <c>xen_register_mcast_ctrl_watch</c>); their initial events
    /// bring the current values in as changes. When one cannot be set, the others are removed again before
    /// the failure goes to the caller.
    /// </summary>
    public async Task<IAsyncDisposable[]> WatchAsync(Action onFrontendState, Action onHotplugStatus, Action? onRate = null, Action? onMulticastControl = null)
    {
        var watches = new List<Task<IAsyncDisposable>>(4)
        {
            xenStore.WatchAsync($"{OtherEnd}/state", $"fe:{Paths.Vif}", _ => onFrontendState()),
            xenStore.WatchAsync(Paths.Backend(HotplugStatusKey), $"hp:{Paths.Vif}", _ => onHotplugStatus()),
        };
        if (onRate is not null)
            watches.Add(xenStore.WatchAsync(Paths.Backend(RateKey), $"rate:{Paths.Vif}", _ => onRate()));
        if (onMulticastControl is not null)
            watches.Add(xenStore.WatchAsync($"{OtherEnd}/{MulticastControlKey}", $"mcast:{Paths.Vif}", _ => onMulticastControl()));
        try
        {
            return await Task.WhenAll(watches);
        }
        catch
        {
            foreach (var watch in watches)
                if (watch.IsCompletedSuccessfully)
                    await watch.Result.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// Linux netback's <c>connect()</c> reads: the backend's keys again (a toolstack may have rewritten
    /// <c>mtu</c>, <c>rate</c> or <c>bridge</c> since), the frontend's, and the MTU. A malformed or missing
    /// key is a <see cref="VifConfigException"/>; the frontend's own failure, if any, is the one reported.
    /// </summary>
    public async Task<VifConnectConfig> ReadConnectConfigAsync()
    {
        var backend = await ReadConfigAsync();
        var frontendMtuPath = $"{backend.FrontendPath}/mtu";
        // Asked for with the frontend's other keys: one round trip.
        var frontendMtuRead = xenStore.ReadAsync(frontendMtuPath);
        var frontendRead = FrontendConfig.ReadAsync(xenStore, backend.FrontendPath, maxQueues);
        var ctrlRead = FrontendCtrlRing.ReadAsync(xenStore, backend.FrontendPath);
        // WhenAll throws the first task's failure: the frontend's keys before its mtu and its ctrl ring.
        await Task.WhenAll(frontendRead, frontendMtuRead, ctrlRead);
        var frontendMtu = frontendMtuRead.Result;
        var mtu = backend.Mtu
            ?? (frontendMtu is null ? BackendConfig.DefaultMtu : XenStoreValue.ParseUInt(frontendMtuPath, frontendMtu, BackendConfig.MaxMtu));
        return new VifConnectConfig(backend, frontendRead.Result, (int)mtu, ctrlRead.Result);
    }

    /// <summary>
    /// As Linux's <c>xenbus_switch_state</c>, with <see cref="NetbackFeatures"/> written first (in the same
    /// transaction) when the backend first offers them. False when the backend directory was gone, so
    /// nothing was written and <see cref="State"/> is unchanged.
    /// </summary>
    public async Task<bool> SwitchStateAsync(XenbusState state, bool publishFeatures = false)
    {
        var writes = new List<KeyValuePair<string, string>>(NetbackFeatures.All.Count + 2);
        if (publishFeatures)
        {
            writes.AddRange(NetbackFeatures.All);
            // As Linux's netback_probe, whatever the number (a frontend that sees 1 asks for one queue).
            writes.Add(new(NetbackFeatures.MaxQueuesKey, maxQueues.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        }
        writes.Add(new("state", XenbusStateText.Format(state)));
        if (!await WriteWhileBackendExistsAsync(writes))
            return false;
        State = state;
        return true;
    }

    /// <summary>
    /// As Linux's <c>xenbus_dev_fatal</c>: the reason goes to the device's error node
    /// (<c>error/backend/vif/&lt;domid&gt;/&lt;handle&gt;/error</c>), the device to Closing. The reason
    /// names guest-written values through <see cref="PrintableValue"/> already (<see cref="VifConfigException"/>).
    /// </summary>
    /// <returns>Whether Closing was written (false when the backend directory was gone).</returns>
    /// <exception cref="XenStoreErrorException">xenstore refused a write.</exception>
    /// <exception cref="IOException">The xenstore connection failed.</exception>
    public async Task<bool> DevFatalAsync(string reason)
    {
        await xenStore.WriteAsync($"{Paths.ErrorDir}/error", reason);
        return await SwitchStateAsync(XenbusState.Closing);
    }

    /// <summary>
    /// Writes backend keys in one transaction, and only while the backend's <c>state</c> node exists, so
    /// that a vif the toolstack is removing is never brought back to life by our write (xenstore creates
    /// missing parents, leaving a husk no toolstack removes). The writes go out together, in order
    /// (requests leave in call order). False when the backend was gone.
    /// </summary>
    private Task<bool> WriteWhileBackendExistsAsync(IReadOnlyList<KeyValuePair<string, string>> writes) =>
        xenStore.RunTransactionAsync(async tx =>
        {
            if (await xenStore.ReadAsync(Paths.Backend("state"), tx) is null)
                return false;
            var pending = new Task[writes.Count];
            for (var i = 0; i < writes.Count; i++)
                pending[i] = xenStore.WriteAsync(Paths.Backend(writes[i].Key), writes[i].Value, tx);
            await Task.WhenAll(pending);
            return true;
        });
}
