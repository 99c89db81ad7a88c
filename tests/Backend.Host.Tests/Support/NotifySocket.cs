using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Hosting.Systemd;

namespace Backend.Host.Tests.Support;

/// <summary>
/// What systemd listens on for a Type=notify service: a Unix datagram socket whose path goes into the
/// service's NOTIFY_SOCKET. Each datagram is one notification ("READY=1", "WATCHDOG=1", ...).
/// </summary>
public sealed class NotifySocket : IDisposable
{
    private readonly Socket _socket = new(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
    private readonly byte[] _buffer = new byte[4096];

    public NotifySocket()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"xnb-notify-{Guid.NewGuid():N}.sock");
        _socket.Bind(new UnixDomainSocketEndPoint(Path));
    }

    public string Path { get; }

    /// <summary>The next notification, or null when none came within <paramref name="timeout"/>.</summary>
    public async Task<string?> ReceiveAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            var n = await _socket.ReceiveAsync(_buffer, SocketFlags.None, cts.Token);
            return Encoding.UTF8.GetString(_buffer, 0, n).TrimEnd('\n');
        }
        catch (OperationCanceledException)
        {
            return null;
        }
    }

    /// <summary>Every notification already queued, without waiting.</summary>
    public List<string> Drain()
    {
        var queued = new List<string>();
        while (_socket.Available > 0)
        {
            var n = _socket.Receive(_buffer);
            queued.Add(Encoding.UTF8.GetString(_buffer, 0, n).TrimEnd('\n'));
        }
        return queued;
    }

    /// <summary>A notifier sending to this socket, for a daemon run inside the test process (NOTIFY_SOCKET is per process).</summary>
    public ISystemdNotifier Notifier() => new Client(Path);

    public void Dispose()
    {
        _socket.Dispose();
        File.Delete(Path);
    }

    private sealed class Client(string path) : ISystemdNotifier
    {
        public bool IsEnabled => true;

        public void Notify(ServiceState state)
        {
            using var socket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
            socket.SendTo(Encoding.UTF8.GetBytes(state.ToString()), new UnixDomainSocketEndPoint(path));
        }
    }
}
