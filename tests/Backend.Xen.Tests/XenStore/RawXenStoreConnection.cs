using System.Net.Sockets;
using System.Text;
using Backend.Xen.XenStore;

namespace Backend.Xen.Tests.XenStore;

/// <summary>A bare socket to the server, to send exactly the bytes a hostile client would.</summary>
internal sealed class RawXenStoreConnection : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    private RawXenStoreConnection(Socket socket) => Socket = socket;

    public Socket Socket { get; }

    /// <summary>The server's side of a connection a test accepted, to play xenstore to a client.</summary>
    public static RawXenStoreConnection Accepted(Socket socket) => new(socket);

    public static async Task<RawXenStoreConnection> ConnectAsync(string socketPath)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath));
        return new RawXenStoreConnection(socket);
    }

    public static byte[] Message(XenStoreMessageType type, uint requestId, uint transactionId, byte[] payload, uint? declaredLength = null)
    {
        var message = new byte[XenStoreMessageHeader.Size + payload.Length];
        new XenStoreMessageHeader(type, requestId, transactionId, declaredLength ?? (uint)payload.Length).Write(message);
        payload.CopyTo(message, XenStoreMessageHeader.Size);
        return message;
    }

    /// <summary>Strings joined as xs_wire does: each NUL-terminated.</summary>
    public static byte[] Strings(params string[] strings) => Encoding.ASCII.GetBytes(string.Concat(strings.Select(s => s + "\0")));

    public Task SendAsync(byte[] bytes) => Socket.SendAsync(bytes, SocketFlags.None);

    public Task SendAsync(XenStoreMessageType type, uint requestId, byte[] payload, uint transactionId = 0) =>
        SendAsync(Message(type, requestId, transactionId, payload));

    /// <summary>The next whole message, or null when the server closed the connection.</summary>
    public async Task<(XenStoreMessageHeader Header, byte[] Payload)?> ReceiveAsync()
    {
        using var cts = new CancellationTokenSource(Timeout);
        var header = new byte[XenStoreMessageHeader.Size];
        if (!await ReceiveExactlyAsync(header, cts.Token))
            return null;
        var parsed = XenStoreMessageHeader.Read(header);
        Assert.True(parsed.Length <= XenStoreLimits.PayloadMax, $"the server sent a payload of {parsed.Length} bytes");
        var payload = new byte[parsed.Length];
        if (!await ReceiveExactlyAsync(payload, cts.Token))
            return null;
        return (parsed, payload);
    }

    public async Task<(XenStoreMessageHeader Header, string Payload)> ReceiveTextAsync()
    {
        var message = await ReceiveAsync();
        Assert.True(message is not null, "the server closed the connection instead of replying");
        return (message.Value.Header, Encoding.ASCII.GetString(message.Value.Payload));
    }

    /// <summary>Whether the server closes the connection (end of stream) before the timeout.</summary>
    public async Task<bool> IsClosedByServerAsync()
    {
        using var cts = new CancellationTokenSource(Timeout);
        var buffer = new byte[XenStoreMessageHeader.Size + XenStoreLimits.PayloadMax];
        try
        {
            while (true)
            {
                var n = await Socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token);
                if (n == 0)
                    return true;
            }
        }
        catch (SocketException)
        {
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    private async Task<bool> ReceiveExactlyAsync(Memory<byte> buffer, CancellationToken cancellationToken)
    {
        while (buffer.Length > 0)
        {
            var n = await Socket.ReceiveAsync(buffer, SocketFlags.None, cancellationToken);
            if (n == 0)
                return false;
            buffer = buffer[n..];
        }
        return true;
    }

    public void Dispose() => Socket.Dispose();
}
