using System.Security.Cryptography;
using System.Text;

namespace Backend.Host.Admin;

/// <summary>
/// The bearer token the admin endpoint asks for. Only its SHA-256 digest is kept, and a presented token is
/// hashed and compared in constant time, so neither the comparison nor the length of the common prefix
/// tells a caller anything about the token.
/// </summary>
public sealed class AdminToken
{
    /// <summary>Shorter tokens can be guessed over the network; 16 characters of a random string cannot.</summary>
    public const int MinimumLength = 16;

    private readonly byte[] _digest;

    private AdminToken(string token) => _digest = SHA256.HashData(Encoding.UTF8.GetBytes(token));

    /// <summary>The token, or null with the reason it cannot be one (said after the setting's name).</summary>
    public static AdminToken? Parse(string token, out string? why)
    {
        why = Problem(token);
        return why is null ? new AdminToken(token) : null;
    }

    /// <summary>What is wrong with <paramref name="token"/> as a bearer token, or null.</summary>
    public static string? Problem(string token)
    {
        if (token.Length < MinimumLength)
            return $"{token.Length} characters; a token has at least {MinimumLength}";
        foreach (var c in token)
            if (c <= ' ' || c == '\u007f' || c > '~')
                return "has a space, control or non-ASCII character; an Authorization header carries printable ASCII only";
        return null;
    }

    /// <summary>True when <paramref name="authorization"/> is <c>Bearer &lt;the token&gt;</c>.</summary>
    public bool Accepts(string? authorization)
    {
        const string scheme = "Bearer ";
        if (authorization is null || !authorization.StartsWith(scheme, StringComparison.OrdinalIgnoreCase))
            return false;
        var presented = SHA256.HashData(Encoding.UTF8.GetBytes(authorization.AsSpan(scheme.Length).Trim().ToString()));
        return CryptographicOperations.FixedTimeEquals(presented, _digest);
    }
}
