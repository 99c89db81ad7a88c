using System.Net;

namespace Backend.Host.Admin;

/// <summary>
/// Whether the admin endpoint is reachable from beyond this host. Binding it to anything but loopback is
/// the administrator's explicit choice and is said once, loudly, at start, with what guards it: nothing,
/// a bearer token over plain http (readable on the wire), or a token over https.
/// </summary>
public static class AdminExposure
{
    /// <summary>True when every address the URL's host binds is a loopback address.</summary>
    public static bool IsLoopbackOnly(string adminUrl)
    {
        if (!Uri.TryCreate(adminUrl, UriKind.Absolute, out var uri))
            return false;
        var host = uri.Host;
        if (host.Equals("localhost", StringComparison.OrdinalIgnoreCase))
            return true;
        // Kestrel reads '*', '+' and any name it cannot parse as "every interface".
        return IPAddress.TryParse(host.Trim('[', ']'), out var address) && IPAddress.IsLoopback(address);
    }

    /// <summary>
    /// The start-up warning for <paramref name="adminUrl"/>, or null when it stays on loopback.
    /// <paramref name="tokenRequired"/>: requests must carry the bearer token.
    /// </summary>
    public static string? Warning(string adminUrl, bool tokenRequired)
    {
        if (IsLoopbackOnly(adminUrl))
            return null;
        if (!tokenRequired)
            return $"the admin endpoint {adminUrl} listens beyond loopback and has no authentication: anyone who reaches it reads every vif's status; set AdminTokenFile (or AdminToken), or bind it to 127.0.0.1 unless a firewall guards it";
        var https = adminUrl.StartsWith("https:", StringComparison.OrdinalIgnoreCase);
        return https
            ? $"the admin endpoint {adminUrl} listens beyond loopback; every path but /healthz asks for the bearer token, over https"
            : $"the admin endpoint {adminUrl} listens beyond loopback; every path but /healthz asks for the bearer token, but over plain http the token crosses the network readable: use https:// with AdminCertificate";
    }
}
