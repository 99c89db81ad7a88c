using Backend.Actors.Status;
using Backend.Host.Hosting;
using Backend.Xen.Buffers;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Backend.Host.Admin;

/// <summary>The admin HTTP routes: <c>/status</c> (JSON), <c>/metrics</c> (Prometheus), <c>/healthz</c>.</summary>
public static class AdminEndpoints
{
    public static void Map(WebApplication app, VifStatusRegistry status, PacketBufferPool buffers, XenEnvironment xen, HostNetworking network)
    {
        var platform = xen.Describe();
        var domid = xen.Platform.BackendDomId;
        app.MapGet("/status", () => Results.Json(StatusDocument.From(platform, domid, status, network.UplinkStatus()), AdminJson.Options));
        app.MapGet("/metrics", () => Results.Text(PrometheusWriter.Write(status, network.UplinkStatus(), buffers), "text/plain; version=0.0.4; charset=utf-8"));
        app.MapGet("/healthz", () => Results.Text("ok\n"));
    }
}
