using System.Text;
using Tmds.Linux;

namespace Backend.Xen.Platform.Sim;

/// <summary>A <c>sockaddr_un</c> built once per peer, so that a notification formats nothing.</summary>
internal sealed unsafe class SimSocketAddress
{
    public sockaddr_un Value;

    public SimSocketAddress(string path)
    {
        var bytes = Encoding.UTF8.GetBytes(path);
        if (bytes.Length >= 108)
            throw new ArgumentException($"socket path longer than sun_path allows: {path}", nameof(path));
        Value.sun_family = LibC.AF_UNIX;
        fixed (byte* p = Value.sun_path)
        {
            bytes.CopyTo(new Span<byte>(p, 108));
            p[bytes.Length] = 0;
        }
    }
}
