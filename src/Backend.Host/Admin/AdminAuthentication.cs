using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Backend.Host.Admin;

/// <summary>
/// With a token configured, every request but <c>/healthz</c> must carry <c>Authorization: Bearer
/// &lt;token&gt;</c> or gets 401 (RFC 6750's <c>WWW-Authenticate: Bearer</c>). <c>/healthz</c> says only
/// "ok", so load balancers and probes keep working without the secret.
/// </summary>
public static class AdminAuthentication
{
    public const string OpenPath = "/healthz";

    public static void Use(WebApplication app, AdminToken token) =>
        app.Use(async (context, next) =>
        {
            if (context.Request.Path.Equals(OpenPath, StringComparison.Ordinal) || token.Accepts(context.Request.Headers.Authorization))
            {
                await next(context);
                return;
            }
            context.Response.StatusCode = StatusCodes.Status401Unauthorized;
            context.Response.Headers.WWWAuthenticate = "Bearer realm=\"xnb\"";
        });
}
