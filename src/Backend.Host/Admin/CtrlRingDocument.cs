using Backend.Actors.Status;

namespace Backend.Host.Admin;

/// <summary>
/// A vif's control ring in <c>GET /status</c>, present while the frontend has one connected: the hash it
/// set (algorithm, types, mapping table size) and the requests answered (and of those, refused).
/// </summary>
public sealed record CtrlRingDocument(string HashAlgorithm, string HashFlags, int HashMappingSize, long Requests, long Refused)
{
    public static CtrlRingDocument? From(VifStatus v)
    {
        if (v.Hash is not { } hash)
            return null;
        var config = hash.Current;
        return new CtrlRingDocument(config.AlgorithmName, config.FlagNames, config.Mapping.Length,
            Interlocked.Read(ref v.CtrlRequests), Interlocked.Read(ref v.CtrlRequestsRefused));
    }
}
