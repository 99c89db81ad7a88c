using System.Globalization;
using Backend.Actors.Status;
using Backend.Host.Fleet;
using Backend.Host.Hosting;
using Backend.Host.Metrics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Backend.Host.Admin;

/// <summary>
/// The admin HTTP routes: <c>/</c> (the status page, HTML), <c>/status</c> (JSON), <c>/metrics</c>
/// (Prometheus, from the <c>xnb</c> meter, this host only), <c>/fleet</c> (JSON: every member of the
/// cluster with its vifs; this host alone when the cluster is off), <c>/healthz</c>.
/// </summary>
public static class AdminEndpoints
{
    public static void Map(WebApplication app, VifStatusRegistry status, XnbMetrics metrics, XenEnvironment xen, HostNetworking network, FleetView fleet)
    {
        var platform = xen.Describe();
        var domid = xen.Platform.BackendDomId;
        var prometheus = new PrometheusWriter(metrics.Meter);
        app.Lifetime.ApplicationStopped.Register(prometheus.Dispose);
        var samples = new StatusPageSamples(TimeProvider.System);
        var host = Environment.MachineName;

        app.MapGet("/", async (HttpRequest request, CancellationToken cancellationToken) =>
        {
            var document = StatusDocument.From(platform, domid, status, network.UplinkStatus());
            var (now, since, seconds) = samples.Take(document, QueryNumber(request, "since", 1, long.MaxValue));
            var refresh = (int)(QueryNumber(request, "refresh", 1, 300) ?? StatusPage.DefaultRefreshSeconds);
            var members = fleet.Enabled ? await fleet.ReadAsync(cancellationToken) : null;
            return Results.Text(StatusPage.Render(document, host, XnbMetrics.Version, now, since, seconds, refresh, members), StatusPage.ContentType);
        });
        app.MapGet("/status", () => Results.Json(StatusDocument.From(platform, domid, status, network.UplinkStatus()), AdminJson.Options));
        app.MapGet("/fleet", async (CancellationToken cancellationToken) => Results.Json(await fleet.ReadAsync(cancellationToken), AdminJson.Options));
        app.MapGet("/metrics", () => Results.Text(prometheus.Write(), PrometheusWriter.ContentType));
        app.MapGet("/healthz", () => Results.Text("ok\n"));
    }

    /// <summary>A query value within [min, max], or null when absent or anything else (a stale or hand-made URL still gets a page).</summary>
    private static long? QueryNumber(HttpRequest request, string name, long min, long max) =>
        long.TryParse(request.Query[name].ToString(), NumberStyles.None, CultureInfo.InvariantCulture, out var value) && value >= min && value <= max
            ? value
            : null;
}
