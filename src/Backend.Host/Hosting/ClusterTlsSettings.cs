namespace Backend.Host.Hosting;

/// <summary>
/// Settings section <c>Cluster:Tls</c>: mutual TLS between the daemons (Akka.Remote's DotNetty SSL). Every
/// node presents <see cref="Certificate"/> and accepts a peer only when its certificate is signed by
/// <see cref="Authority"/>, or, without one, when it is the very same certificate (one fleet certificate).
/// </summary>
public sealed class ClusterTlsSettings
{
    /// <summary>This node's certificate with its private key: PKCS#12, or PEM (key in the same file or in <see cref="Key"/>).</summary>
    public string? Certificate { get; set; }

    /// <summary>The PEM private key of <see cref="Certificate"/> when it is not in the same file.</summary>
    public string? Key { get; set; }

    /// <summary>The password of a PKCS#12 <see cref="Certificate"/>; none: no password.</summary>
    public string? Password { get; set; }

    /// <summary>A PEM file of the CA(s) that sign the fleet's certificates; none: peers must present <see cref="Certificate"/> itself.</summary>
    public string? Authority { get; set; }
}
