using System.Net;

namespace Backend.Host.Admin;

/// <summary>
/// Whether the admin endpoint is reachable from beyond this host. It has no authentication yet (issue 17
/// adds a token and HTTPS), so binding it to anything but loopback is the administrator's explicit choice
/// and is said once, loudly, at start.
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

    /// <summary>The start-up warning for <paramref name="adminUrl"/>, or null when it stays on loopback.</summary>
    public static string? Warning(string adminUrl) =>
        IsLoopbackOnly(adminUrl)
            ? null
            : $"the admin endpoint {adminUrl} listens beyond loopback and has no authentication: anyone who reaches it reads every vif's status; bind it to 127.0.0.1 unless a firewall guards it";
}
