using Akka.Actor;
using Akka.Hosting;
using Akka.Logger.Serilog;
using Backend.Actors;
using Backend.Actors.Bridge;
using Backend.Actors.Hypercall;
using Backend.Actors.Scheduling;
using Backend.Actors.Status;
using Backend.Actors.Xenbus;
using Backend.Host.Admin;
using Backend.Host.Fleet;
using Backend.Host.Metrics;
using Backend.Host.Systemd;
using Backend.Xen.Buffers;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Serilog;

namespace Backend.Host.Hosting;

/// <summary>
/// The daemon as a hosted service: the Akka.NET actor system (xenbus supervisor, hypercall actors) and
/// the admin HTTP endpoint in one generic host, over an opened <see cref="XenEnvironment"/>.
/// </summary>
public sealed class DaemonHost : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private readonly HostNetworking _network;

    private DaemonHost(WebApplication app, VifStatusRegistry status, BridgeSet bridges, PacketBufferPool buffers, HostNetworking network, XnbMetrics metrics)
    {
        _app = app;
        Status = status;
        Bridges = bridges;
        Buffers = buffers;
        _network = network;
        Metrics = metrics;
    }

    public VifStatusRegistry Status { get; }

    public BridgeSet Bridges { get; }

    public PacketBufferPool Buffers { get; }

    /// <summary>The meter <c>xnb</c>: every counter of <see cref="Status"/>, the uplinks and the buffers as instruments.</summary>
    public XnbMetrics Metrics { get; }

    /// <summary>Completes once the xenstore watch on backend/vif is set.</summary>
    public Task Ready => _ready.Task;

    /// <summary>The admin endpoint's actual URL (after port 0 was resolved).</summary>
    public string AdminUrl { get; private set; } = "";

    public ActorSystem ActorSystem => _app.Services.GetRequiredService<ActorSystem>();

    /// <summary>The backend's actors, once the actor system has started.</summary>
    public BackendActors? Backend { get; private set; }

    /// <summary>This host and, with the cluster on, every member of the fleet.</summary>
    public FleetView Fleet { get; private set; } = null!;

    /// <param name="access">The admin endpoint's token and certificate (<see cref="AdminAccess.Load"/>); null: none.</param>
    /// <param name="clusterTls">The fleet's remoting certificate (<see cref="ClusterTls.Load"/>); null: plain TCP.</param>
    public static DaemonHost Create(DaemonSettings settings, XenEnvironment xen, AdminAccess? access = null, ClusterTls? clusterTls = null)
    {
        access ??= AdminAccess.Open;
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Services.AddSerilog();
        builder.WebHost.UseUrls(settings.Admin);
        if (access.Certificate is { } certificate)
        {
            // The slim builder leaves HTTPS out unless asked; the certificate then serves every https URL.
            builder.WebHost.UseKestrelHttpsConfiguration();
            builder.WebHost.ConfigureKestrel(kestrel => kestrel.ConfigureHttpsDefaults(https => https.ServerCertificate = certificate));
        }
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(5));
        builder.Services.AddSingleton<IHostLifetime, CommandLineHostLifetime>();

        var status = new VifStatusRegistry();
        var bridges = new BridgeSet(TimeProvider.System, new BridgeOptions
        {
            SourceMac = settings.BridgeSourceMac == "any" ? BridgeSourceMac.Any : BridgeSourceMac.Locked,
            MaxMacs = settings.BridgeMaxMacs,
        });
        var buffers = new PacketBufferPool();
        // The uplinks' TAPs are opened here, so that one that cannot be is a start-up error, not a log line.
        var network = HostNetworking.Open(settings, xen);
        var options = new BackendOptions
        {
            WriteHotplugStatus = xen.Simulated,
            RxQueueLength = settings.RxQueueLength,
            RxQueueBytes = settings.RxQueueBytes,
            RxStallTimeout = TimeSpan.FromMilliseconds(settings.RxStallTimeoutMs),
            RxDrainTimeout = TimeSpan.FromMilliseconds(settings.RxDrainTimeoutMs),
            Switch = network.Switch,
        };
        var hypercallThreads = settings.HypercallThreads > 0 ? settings.HypercallThreads : Environment.ProcessorCount;
        options = options with { MaxQueues = BackendOptions.DefaultMaxQueues(settings.MaxQueues, hypercallThreads) };
        DaemonHost? host = null;
        var platform = xen.Describe();
        FleetHostDocument Summary() => FleetHostDocument.From(Environment.MachineName, XnbMetrics.Version,
            StatusDocument.From(platform, xen.Platform.BackendDomId, status, network.UplinkStatus()), DateTimeOffset.UtcNow);

        builder.Services.AddAkka("xnb", (akka, _) =>
        {
            // A scheduler that sleeps until its next deadline: Akka's ticks every 10 ms (issue 17).
            akka.AddHocon(DeadlineScheduler.Hocon + GrantCopyActors.DispatcherHocon(hypercallThreads) + "akka.coordinated-shutdown.run-by-clr-shutdown-hook = off\nakka.stdout-loglevel = OFF\n" +
                // Watch events that race a vif tree's stop land in dead letters by design.
                "akka.log-dead-letters-during-shutdown = off\nakka.log-dead-letters = off", HoconAddMode.Prepend);
            akka.ConfigureLoggers(loggers =>
            {
                loggers.ClearLoggers();
                loggers.AddLogger<SerilogLogger>();
                // Akka's own stdout logger speaks at this level while shutting down; stdout is for SIMXEN's lines.
                // Below Information it follows --log-level too: an Info line that Serilog would drop anyway
                // still costs a log event through the event stream (several per vif as guests connect).
                loggers.LogLevel = Logging.AkkaLevel(settings.LogLevel);
            });
            akka.WithActors((system, _) =>
            {
                var backend = BackendActors.Start(system, hypercallThreads, xen.Platform,
                    lanes => new BackendServices(xen.Platform, xen.XenStore, bridges, buffers, lanes, status, options) { Taps = network.Taps },
                    services =>
                    {
                        network.StartUplinks(system, services);
                        var ready = system.ActorOf(Akka.Actor.Props.Create(() => new ReadyListener(host!._ready)), "ready-listener");
                        system.EventStream.Subscribe(ready, typeof(XenbusProtocol.Ready));
                    });
                host!.Backend = backend;
                if (settings.Cluster.Enabled)
                    system.ActorOf(FleetPublisher.Props(Summary, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(10), settings.Cluster.Seeds).WithDispatcher(FleetDispatcher.Id), "fleet-publisher");
            });
            if (settings.Cluster.Enabled)
                FleetHosting.Configure(akka, settings.Cluster, clusterTls);
        });

        var app = builder.Build();
        var metrics = new XnbMetrics(status, network.UplinkStatus, buffers);
        host = new DaemonHost(app, status, bridges, buffers, network, metrics);
        host.Fleet = new FleetView(Summary, settings.Cluster.Enabled ? () => app.Services.GetRequiredService<ActorSystem>() : null);
        if (access.Token is { } token)
            AdminAuthentication.Use(app, token);
        AdminEndpoints.Map(app, status, metrics, xen, network, host.Fleet);
        Soak.SoakFaultEndpoint.MapIfEnabled(app, () => host.Backend);
        return host;
    }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await _app.StartAsync(cancellationToken);
        var addresses = _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>();
        AdminUrl = addresses?.Addresses.FirstOrDefault() ?? "";
    }

    /// <summary>
    /// Starts pinging systemd's watchdog when it asks for pings (WATCHDOG_USEC), after READY: the watchdog
    /// supervises a running daemon; its start is bounded by TimeoutStartSec. Returns the pinger, or null.
    /// </summary>
    public IActorRef? StartWatchdog(SystemdService systemd)
    {
        if (systemd.WatchdogInterval is not { } interval || Backend is not { } backend)
            return null;
        return ActorSystem.ActorOf(WatchdogActor.Props(systemd, backend.Lanes.Lanes, interval), "systemd-watchdog");
    }

    /// <summary>
    /// Stops in order: no new TX requests are taken, frames already queued for guests get up to half a
    /// second to be delivered (as cback does), then the actors and the endpoint stop. The vifs stay
    /// Connected for the next start to re-attach.
    /// </summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (Backend is { } backend)
        {
            if (!await backend.QuiesceAndFlushAsync(TimeSpan.FromMilliseconds(500), cancellationToken))
                Log.Warning("orderly stop: {Outstanding} frames still in flight after 500 ms (a guest not taking its RX frames?); stopping anyway", Buffers.Outstanding);
        }
        await _app.StopAsync(cancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.DisposeAsync();
        Metrics.Dispose();
        // After the actors: nothing reads or writes the TAPs any more (they stay, being persistent).
        _network.Dispose();
        Buffers.Dispose();
    }

    /// <summary>Completes <see cref="Ready"/> when the supervisor publishes that its watch is set.</summary>
    private sealed class ReadyListener : ReceiveActor
    {
        public ReadyListener(TaskCompletionSource ready) => Receive<XenbusProtocol.Ready>(_ => ready.TrySetResult());
    }
}
