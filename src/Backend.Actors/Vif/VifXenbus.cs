using Backend.Actors.HostNetwork;
using Backend.Actors.Status;
using Backend.Xen.Abi;
using Backend.Xen.EventChannels;
using Backend.Xen.Grants;
using Backend.Xen.XenStore;
using Backend.Xen.Xenbus;

namespace Backend.Actors.Vif;

/// <summary>
/// One vif's xenbus device as its connection actor uses it, Linux netback's <c>xenbus.c</c> above
/// <see cref="VifBackend"/>: the reads at probe (the toolstack's keys, the backend's state, the hotplug
/// script's status) and the status and log lines they fill in, the state switches, and
/// <c>xenbus_dev_fatal</c>. What to do on a state is the actor's; the rings are <see cref="VifConnection"/>'s.
/// Used on the actor's thread only.
/// </summary>
internal sealed class VifXenbus(VifBackend backend, VifStatus status, VifLog log, BackendOptions options)
{
    private readonly List<IAsyncDisposable> _watches = [];
    // The malformed rate last warned about: one warning per value, not one per read.
    private string? _warnedRate;

    /// <summary>The backend's state as last read or written.</summary>
    public XenbusState State => backend.State;

    /// <summary>Whether <c>hotplug-status</c> last read lets the vif connect (no node: no script to wait for).</summary>
    public bool HotplugConnected { get; private set; }

    /// <summary>
    /// Linux's <c>netback_probe</c>: reads the toolstack's keys and the backend's state, has
    /// <paramref name="openTap"/> create the vif's TAP under <c>--switch tap</c> (given <c>vifname</c>;
    /// it exists before the hotplug status says so, and before InitWait, as with the script), and plays the
    /// hotplug script's part under SIMXEN. Null when the vif can be served, else why not.
    /// </summary>
    public async Task<string?> ProbeAsync(Action<string?> openTap)
    {
        try
        {
            var config = await backend.ReadConfigAsync();
            status.Mac = config.Mac.ToString();
            status.Bridge = config.Bridge;
        }
        catch (VifConfigException ex)
        {
            return ex.Message;
        }

        var hotplug = await backend.ReadStateAndHotplugStatusAsync();
        status.State = backend.State.ToString();
        if (options.Switch == SwitchMode.Tap)
        {
            var vifname = await backend.ReadVifNameAsync();
            try
            {
                openTap(vifname);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException)
            {
                return $"cannot create the vif's TAP device: {ex.Message}";
            }
        }
        HotplugConnected = await backend.CompleteHotplugAsync(hotplug, playScript: options.WriteHotplugStatus);
        return null;
    }

    /// <summary>
    /// Sets the watches on the frontend's state, <c>hotplug-status</c>, <c>rate</c> and the frontend's
    /// <c>request-multicast-control</c> (<see cref="VifBackend.WatchAsync"/>), held until <see cref="Unwatch"/>.
    /// </summary>
    public async Task WatchAsync(Action onFrontendState, Action onHotplugStatus, Action onRate, Action onMulticastControl) =>
        _watches.AddRange(await backend.WatchAsync(onFrontendState, onHotplugStatus, onRate, onMulticastControl));

    /// <summary>The frontend's <c>request-multicast-control</c>, read again at its watch event.</summary>
    public Task<bool> ReadMulticastControlAsync() => backend.ReadMulticastControlAsync();

    /// <summary>
    /// The toolstack's <c>rate</c> read again (Linux's <c>xen_net_rate_changed</c>): null means unlimited,
    /// for a malformed value too, which is warned about once (<see cref="CheckRate"/>).
    /// </summary>
    public async Task<(RateLimit? Rate, string? Malformed)> ReadRateAsync()
    {
        var read = await backend.ReadRateAsync();
        CheckRate(read.Malformed);
        return read;
    }

    /// <summary>
    /// As Linux's "Failed to parse network rate limit. Traffic unlimited.": one warning per malformed value
    /// (within the vif's log budget), none again while it stays, one more if another comes later.
    /// </summary>
    private void CheckRate(string? malformed)
    {
        if (malformed is null || malformed == _warnedRate)
        {
            _warnedRate = malformed;
            return;
        }
        _warnedRate = malformed;
        log.RateMalformed(PrintableValue.Of(malformed));
    }

    /// <summary>Removes the watches (the actor stops; not awaited, so a lost connection cannot hold its stop).</summary>
    public void Unwatch()
    {
        foreach (var watch in _watches)
            _ = watch.DisposeAsync().AsTask();
        _watches.Clear();
    }

    /// <summary>Reads <c>hotplug-status</c> into <see cref="HotplugConnected"/>, which it returns.</summary>
    public async Task<bool> ReadHotplugStatusAsync() =>
        HotplugConnected = VifBackend.IsHotplugConnected(await backend.ReadHotplugStatusAsync());

    /// <summary>The frontend's new state (into the status), or null when it is the one last acted on.</summary>
    public async Task<XenbusState?> ReadFrontendStateChangeAsync()
    {
        if (await backend.ReadFrontendStateChangeAsync() is not { } state)
            return null;
        status.FrontendState = state.ToString();
        log.FrontendChanged(state, backend.State);
        return state;
    }

    /// <summary>The frontend's <c>xdp-headroom</c>, read again at Reconfiguring (<see cref="VifBackend.ReadXdpHeadroomAsync"/>).</summary>
    public Task<ushort> ReadXdpHeadroomAsync() => backend.ReadXdpHeadroomAsync();

    /// <summary>The toolstack's <c>online</c>.</summary>
    public Task<bool> ReadOnlineAsync() => backend.ReadOnlineAsync();

    /// <summary>
    /// Linux netback's <c>connect()</c>: reads the keys (<see cref="VifBackend.ReadConnectConfigAsync"/>) and
    /// has <paramref name="attach"/> map the rings and bind the channels with them. A failure that is the
    /// frontend's fault (<see cref="IsFrontendFault"/>) fails this connect (<see cref="FailAsync"/>): null.
    /// </summary>
    public async Task<VifConnectConfig?> ConnectAsync(Action<VifConnectConfig> attach)
    {
        try
        {
            var config = await backend.ReadConnectConfigAsync();
            CheckRate(config.Backend.MalformedRate);
            attach(config);
            return config;
        }
        catch (Exception ex) when (IsFrontendFault(ex))
        {
            await FailAsync(ex.Message);
            return null;
        }
    }

    /// <summary>
    /// Has <paramref name="reattach"/> attach the connected vif again with <paramref name="config"/> (a new
    /// rate). A failure that is the frontend's fault (its grants or ports are no longer good) fails the
    /// connection as a connect's would: false.
    /// </summary>
    public async Task<bool> ReattachAsync(VifConnectConfig config, Func<VifConnectConfig, Task> reattach)
    {
        try
        {
            await reattach(config);
            return true;
        }
        catch (Exception ex) when (IsFrontendFault(ex))
        {
            await FailAsync(ex.Message);
            return false;
        }
    }

    /// <summary>
    /// Whether a connect failed by the frontend's fault (a bad key, grant or port), which fails this connect
    /// only. A lost xenstore connection is not: it is left to the supervisor, whose restart of the vif's
    /// tree reads the keys again once the client has reconnected.
    /// </summary>
    public static bool IsFrontendFault(Exception ex) =>
        ex is VifConfigException or GrantException or EventChannelBindException or XenStoreErrorException
            or IOException or InvalidOperationException && ex is not XenStoreConnectionException;

    /// <summary>As Linux's <c>xenbus_switch_state</c> (with the feature list first when <paramref name="publishFeatures"/>).</summary>
    public async Task SwitchStateAsync(XenbusState state, bool publishFeatures = false) =>
        StateWritten(await backend.SwitchStateAsync(state, publishFeatures), state);

    /// <summary>As Linux's <c>xenbus_dev_fatal</c>: the error node and Closing; the status says why.</summary>
    public async Task FailAsync(string reason)
    {
        Interlocked.Increment(ref status.Faults);
        status.Fault = reason;
        log.CannotConnect(reason);
        try
        {
            StateWritten(await backend.DevFatalAsync(reason), XenbusState.Closing);
        }
        catch (Exception ex) when (ex is XenStoreErrorException or IOException)
        {
            log.FailureNotRecorded(ex.Message);
        }
    }

    private void StateWritten(bool written, XenbusState state)
    {
        if (written)
            status.State = state.ToString();
        else
            log.StateNotWritten(state);
    }
}
