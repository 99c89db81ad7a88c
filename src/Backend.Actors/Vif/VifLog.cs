using Akka.Event;
using Backend.Actors.Status;
using Backend.Xen.Abi;
using Backend.Xen.Xenbus;

namespace Backend.Actors.Vif;

/// <summary>
/// The log lines of one vif's connection actor, as Linux netback's <c>netdev_*</c> / <c>xenbus_dev_*</c>
/// messages. The lines a guest can make us write again and again (by reconnecting, or failing anew) are
/// written within the vif's <see cref="GuestLogLimit"/>, with the count of those suppressed before them.
/// </summary>
internal sealed class VifLog(ILoggingAdapter log, VifStatus status)
{
    // The vif's name as a string, not the VifId struct: each log call's generic arguments are then
    // reference types, whose shared code is compiled once per process, where a struct argument makes the
    // JIT compile every call shape anew on its first use, which the first restart of each daemon process
    // waited for (docs/reliability.md, "Which restarts are slow"). Rendered the same.
    private readonly string _vif = status.Id.ToString();

    private string Vif => _vif;

    public void DataPathFailed(Exception ex) => log.Error(ex, "{Vif}: data path failed, restarting it: {Reason}", Vif, ex.Message);

    public void DataPathGaveUp(Exception ex, int restarts, TimeSpan window) =>
        log.Error(ex, "{Vif}: data path failed again after {Restarts} restarts within {Window}; stopping it and disabling the vif: {Reason}", Vif, restarts, window, ex.Message);

    public void FrontendChanged(XenbusState frontend, XenbusState backend) =>
        log.Debug("{Vif}: frontend {FrontendState}, backend {BackendState}", Vif, frontend, backend);

    public void WaitingForHotplugToServe() =>
        Guest(LogLevel.InfoLevel, "{Vif}: frontend connected; waiting for hotplug-status to read 'connected' before serving the rings", Vif);

    public void RingsMapped(string eventChannels, int mtu, string bridge) =>
        Guest(LogLevel.InfoLevel, "{Vif}: rings mapped, event channels {Ports}, mtu {Mtu}, bridge '{Bridge}'", Vif, eventChannels, mtu, bridge);

    public void WaitingForHotplugToAnnounce() =>
        Guest(LogLevel.InfoLevel, "{Vif}: connected, waiting for hotplug-status to read 'connected'", Vif);

    public void RateMalformed(string value) =>
        Guest(LogLevel.WarningLevel, "{Vif}: rate \"{Rate}\" is not \"bytes,usec\" with both above 0: traffic unlimited", Vif, value);

    public void RateChanged(string rate) => Guest(LogLevel.InfoLevel, "{Vif}: rate now {Rate}: data path attached again", Vif, rate);

    public void XdpHeadroomChanged(ushort headroom) =>
        Guest(LogLevel.InfoLevel, "{Vif}: frontend reconfigured, XDP headroom now {Headroom}: data path attached again", Vif, headroom);

    public void Disconnecting() => Guest(LogLevel.InfoLevel, "{Vif}: disconnecting", Vif);

    public void Disabled(string reason) =>
        Guest(LogLevel.WarningLevel, "{Vif}: frontend misbehaved, vif disabled (carrier off): {Reason}", Vif, reason);

    public void RxStalled(TimeSpan timeout) =>
        Guest(LogLevel.WarningLevel, "{Vif}: guest RX stalled: frames wait for buffers and it took none for {Seconds} s; carrier off", Vif, timeout.TotalSeconds);

    public void RxReady() => Guest(LogLevel.InfoLevel, "{Vif}: guest RX ready: it posts buffers again; carrier on", Vif);

    public void CannotConnect(string reason) => Guest(LogLevel.ErrorLevel, "{Vif}: cannot connect: {Reason}", Vif, reason);

    public void FailureNotRecorded(string reason) =>
        Guest(LogLevel.WarningLevel, "{Vif}: could not record the failure in xenstore: {Reason}", Vif, reason);

    public void StateNotWritten(XenbusState state) => log.Debug("{Vif}: backend directory gone, state {State} not written", Vif, state);

    public void Forgotten() => log.Info("{Vif}: forgotten (offline and closed)", Vif);

    /// <summary>A line within the vif's budget; false when it was suppressed (and counted).</summary>
    public bool Guest(LogLevel level, string format, params object[] args)
    {
        if (!status.GuestLog.TryTake(out var suppressed))
            return false;
        if (suppressed > 0)
            log.Log(level, "{Vif}: {Suppressed} lines about this vif suppressed (rate limit)", [Vif, suppressed]);
        log.Log(level, format, args);
        return true;
    }
}
