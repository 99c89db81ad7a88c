using System.Globalization;
using Backend.Actors;
using Backend.Xen.Abi;
using Backend.Xen.Xenbus;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Backend.Host.Soak;

/// <summary>
/// The soak's way into a running daemon's actors, off unless <c>XNBSOAK_FAULTS=1</c> (the soak sets it
/// for the daemons it starts): <c>POST /soak/fault?domid=D&amp;handle=H&amp;ring=tx|rx</c> makes that vif's
/// ring actor throw (<see cref="BackendActors.InjectRingFault"/>). An admin route rather than an
/// in-process hook because the soak must also SIGTERM and SIGKILL the daemon, so the daemon is a process
/// of its own; it sits behind the admin endpoint's token like every other route.
/// </summary>
internal static class SoakFaultEndpoint
{
    public const string EnvironmentVariable = "XNBSOAK_FAULTS";
    public const string Path = "/soak/fault";

    public static void MapIfEnabled(WebApplication app, Func<BackendActors?> backend)
    {
        if (Environment.GetEnvironmentVariable(EnvironmentVariable) != "1")
            return;
        app.MapPost(Path, (HttpRequest request) =>
        {
            if (!ushort.TryParse(request.Query["domid"].ToString(), NumberStyles.None, CultureInfo.InvariantCulture, out var domid)
                || !DomId.IsDomain(domid)
                || !uint.TryParse(request.Query["handle"].ToString(), NumberStyles.None, CultureInfo.InvariantCulture, out var handle)
                || request.Query["ring"].ToString() is not ("tx" or "rx"))
            {
                return Results.BadRequest("domid, handle and ring=tx|rx are required\n");
            }
            if (backend() is not { } actors)
                return Results.StatusCode(StatusCodes.Status503ServiceUnavailable);
            actors.InjectRingFault(new VifId(domid, handle), request.Query["ring"] == "tx", "soak");
            return Results.Accepted();
        });
    }
}
