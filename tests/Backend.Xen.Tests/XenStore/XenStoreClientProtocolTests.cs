using System.Collections.Concurrent;
using System.Net.Sockets;
using System.Text;
using Backend.Xen.XenStore;
using Backend.Xen.Xenbus;

namespace Backend.Xen.Tests.XenStore;

/// <summary>The client against a scripted peer: replies out of order, in odd pieces, late, or malformed.</summary>
public sealed class XenStoreClientProtocolTests : IAsyncLifetime
{
    private DirectoryInfo _directory = null!;
    private Socket _listener = null!;
    private RecordingStream _clientStream = null!;
    private XenStoreClient _client = null!;
    private Socket _peer = null!;

    public async Task InitializeAsync()
    {
        _directory = Directory.CreateTempSubdirectory("xnb-xsp-");
        var path = Path.Combine(_directory.FullName, "peer.sock");
        _listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        _listener.Bind(new UnixDomainSocketEndPoint(path));
        _listener.Listen(1);
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        var accepting = _listener.AcceptAsync();
        await socket.ConnectAsync(new UnixDomainSocketEndPoint(path));
        _peer = await accepting;
        _clientStream = new RecordingStream(new NetworkStream(socket, ownsSocket: true));
        _client = new XenStoreClient(_clientStream);
    }

    public async Task DisposeAsync()
    {
        await _client.DisposeAsync();
        _peer.Dispose();
        _listener.Dispose();
        _directory.Delete(recursive: true);
    }

    /// <summary>A stream that remembers the size of every Write call, to check one call per message.</summary>
    private sealed class RecordingStream(Stream inner) : Stream
    {
        public ConcurrentQueue<byte[]> Writes { get; } = new();

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() => inner.Flush();
        public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, count);
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => inner.ReadAsync(buffer, cancellationToken);
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count)
        {
            Writes.Enqueue(buffer.AsSpan(offset, count).ToArray());
            inner.Write(buffer, offset, count);
        }

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            Writes.Enqueue(buffer.ToArray());
            return inner.WriteAsync(buffer, cancellationToken);
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
                inner.Dispose();
            base.Dispose(disposing);
        }
    }

    private async Task<(XenStoreMessageHeader Header, string Payload)> ReceiveRequestAsync()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var header = new byte[XenStoreMessageHeader.Size];
        await ReceiveExactlyAsync(header, cts.Token);
        var parsed = XenStoreMessageHeader.Read(header);
        var payload = new byte[parsed.Length];
        await ReceiveExactlyAsync(payload, cts.Token);
        return (parsed, Encoding.ASCII.GetString(payload));
    }

    private async Task ReceiveExactlyAsync(Memory<byte> buffer, CancellationToken cancellationToken)
    {
        while (buffer.Length > 0)
        {
            var n = await _peer.ReceiveAsync(buffer, SocketFlags.None, cancellationToken);
            Assert.True(n > 0, "the client closed the connection");
            buffer = buffer[n..];
        }
    }

    private static byte[] Reply((XenStoreMessageHeader Header, string Payload) request, XenStoreMessageType type, string payload) =>
        RawXenStoreConnection.Message(type, request.Header.RequestId, request.Header.TransactionId, Encoding.ASCII.GetBytes(payload));

    [Fact]
    public async Task Replies_out_of_order_reach_their_requests()
    {
        var first = _client.ReadAsync("/first");
        var second = _client.ReadAsync("/second");
        var a = await ReceiveRequestAsync();
        var b = await ReceiveRequestAsync();

        await _peer.SendAsync(Reply(b, XenStoreMessageType.Read, "value of " + b.Payload.TrimEnd('\0')));
        await _peer.SendAsync(Reply(a, XenStoreMessageType.Read, "value of " + a.Payload.TrimEnd('\0')));

        Assert.Equal("value of /first", await first);
        Assert.Equal("value of /second", await second);
    }

    [Fact]
    public async Task A_relative_read_goes_out_as_written_and_the_backend_s_own_domid_is_read_with_it()
    {
        // As xenstore-read domid in a driver domain: xenstored resolves the path under the caller's domain.
        var read = BackendDomain.ReadOwnDomIdAsync(_client);
        var request = await ReceiveRequestAsync();
        Assert.Equal(XenStoreMessageType.Read, request.Header.Type);
        Assert.Equal("domid\0", request.Payload);
        await _peer.SendAsync(Reply(request, XenStoreMessageType.Read, "3"));
        Assert.Equal((ushort)3, await read);
    }

    [Theory]
    [InlineData("32752")]
    [InlineData("-1")]
    [InlineData("3 ")]
    public async Task A_domid_that_is_no_domain_is_refused(string value)
    {
        var read = BackendDomain.ReadOwnDomIdAsync(_client);
        var request = await ReceiveRequestAsync();
        await _peer.SendAsync(Reply(request, XenStoreMessageType.Read, value));
        await Assert.ThrowsAsync<VifConfigException>(() => read);
    }

    [Fact]
    public async Task A_relative_read_takes_relative_paths_only()
    {
        await Assert.ThrowsAsync<ArgumentException>(() => _client.ReadRelativeAsync("/local/domain/0/domid"));
        await Assert.ThrowsAsync<ArgumentException>(() => _client.ReadRelativeAsync(""));
    }

    [Fact]
    public async Task Reply_arriving_one_byte_at_a_time_is_reassembled()
    {
        var read = _client.ReadAsync("/slow");
        var request = await ReceiveRequestAsync();

        foreach (var b in Reply(request, XenStoreMessageType.Read, "pieces"))
            await _peer.SendAsync(new[] { b });

        Assert.Equal("pieces", await read);
    }

    [Fact]
    public async Task Each_request_is_one_whole_message_in_one_write()
    {
        var write = _client.WriteAsync("/key", "value");
        var request = await ReceiveRequestAsync();
        await _peer.SendAsync(Reply(request, XenStoreMessageType.Write, "OK\0"));
        await write;

        Assert.True(_clientStream.Writes.TryDequeue(out var bytes));
        Assert.Empty(_clientStream.Writes);
        var header = XenStoreMessageHeader.Read(bytes);
        Assert.Equal(XenStoreMessageType.Write, header.Type);
        Assert.Equal(bytes.Length, XenStoreMessageHeader.Size + (int)header.Length);
        Assert.Equal("/key\0value", Encoding.ASCII.GetString(bytes, XenStoreMessageHeader.Size, (int)header.Length));
    }

    [Fact]
    public async Task Cancelled_request_ignores_its_late_reply_and_the_connection_goes_on()
    {
        using var cts = new CancellationTokenSource();
        var cancelled = _client.ReadAsync("/late", cancellationToken: cts.Token);
        var request = await ReceiveRequestAsync();

        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled);
        await _peer.SendAsync(Reply(request, XenStoreMessageType.Read, "too late"));

        var next = _client.ReadAsync("/next");
        var nextRequest = await ReceiveRequestAsync();
        await _peer.SendAsync(Reply(nextRequest, XenStoreMessageType.Read, "on time"));
        Assert.Equal("on time", await next);
    }

    [Fact]
    public async Task Watch_event_and_reply_interleaved_both_arrive()
    {
        var events = new List<XenStoreWatchEvent>();
        var watching = _client.WatchAsync("/be", "tok", events.Add);
        var request = await ReceiveRequestAsync();
        Assert.Equal("/be\0tok\0", request.Payload);

        var both = Reply(request, XenStoreMessageType.Watch, "OK\0")
            .Concat(RawXenStoreConnection.Message(XenStoreMessageType.WatchEvent, 0, 0, RawXenStoreConnection.Strings("/be/x", "tok")))
            .ToArray();
        await _peer.SendAsync(both);
        await watching;

        var read = _client.ReadAsync("/sync");
        var readRequest = await ReceiveRequestAsync();
        await _peer.SendAsync(Reply(readRequest, XenStoreMessageType.Read, ""));
        await read;
        Assert.Equal([new XenStoreWatchEvent("/be/x", "tok")], events);
    }

    [Fact]
    public async Task Watch_event_reaches_the_watches_on_its_path_and_its_ancestors_with_its_token_once_each()
    {
        var seen = new ConcurrentQueue<string>();
        async Task WatchAsync(string path, string token)
        {
            var watching = _client.WatchAsync(path, token, e => seen.Enqueue($"{path}|{token} <- {e.Path}"));
            await _peer.SendAsync(Reply(await ReceiveRequestAsync(), XenStoreMessageType.Watch, "OK\0"));
            await watching;
        }
        await WatchAsync("/", "t");
        await WatchAsync("/be", "t");
        await WatchAsync("/be/1", "t");
        await WatchAsync("/be/1", "u");
        await WatchAsync("/bee", "t");
        await WatchAsync(XenStorePath.IntroduceDomain, "t");

        // The last two are hostile shapes: a double slash, and a special path that is no node.
        foreach (var path in new[] { "/be/1/state", "/bee", "//be", XenStorePath.IntroduceDomain })
            await _peer.SendAsync(RawXenStoreConnection.Message(XenStoreMessageType.WatchEvent, 0, 0, RawXenStoreConnection.Strings(path, "t")));
        var read = _client.ReadAsync("/sync");
        await _peer.SendAsync(Reply(await ReceiveRequestAsync(), XenStoreMessageType.Read, ""));
        await read;

        Assert.Equal(
            [
                "/ t <- //be", "/ t <- /be/1/state", "/ t <- /bee",
                "/be t <- /be/1/state",
                "/be/1 t <- /be/1/state",
                "/bee t <- /bee",
                "@introduceDomain t <- @introduceDomain",
            ],
            seen.Select(e => e.Replace('|', ' ')).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Requests_issued_without_awaiting_reach_xenstore_in_call_order()
    {
        var paths = Enumerable.Range(0, 50).Select(i => $"/k/{i}").ToArray();
        var writes = paths.Select(p => _client.WriteAsync(p, "v")).ToArray();
        var received = new List<string>();
        foreach (var _ in paths)
        {
            var request = await ReceiveRequestAsync();
            received.Add(request.Payload[..request.Payload.IndexOf('\0', StringComparison.Ordinal)]);
            await _peer.SendAsync(Reply(request, XenStoreMessageType.Write, "OK\0"));
        }
        await Task.WhenAll(writes);
        Assert.Equal(paths, received);
    }

    [Fact]
    public async Task Oversized_reply_breaks_the_connection_and_fails_pending_requests()
    {
        var read = _client.ReadAsync("/x");
        var request = await ReceiveRequestAsync();

        var header = new byte[XenStoreMessageHeader.Size];
        new XenStoreMessageHeader(XenStoreMessageType.Read, request.Header.RequestId, 0, XenStoreLimits.PayloadMax + 1).Write(header);
        await _peer.SendAsync(header);

        var error = await Assert.ThrowsAsync<XenStoreConnectionException>(() => read);
        Assert.Contains("XENSTORE_PAYLOAD_MAX", error.Message);
    }

    [Fact]
    public async Task Peer_closing_fails_every_pending_request()
    {
        var pending = Enumerable.Range(0, 10).Select(i => _client.ReadAsync($"/p{i}")).ToList();
        for (var i = 0; i < 10; i++)
            await ReceiveRequestAsync();

        _peer.Shutdown(SocketShutdown.Both);

        foreach (var request in pending)
            await Assert.ThrowsAsync<XenStoreConnectionException>(() => request);
    }

    [Fact]
    public async Task Reply_of_the_wrong_type_is_a_protocol_error()
    {
        var read = _client.ReadAsync("/x");
        var request = await ReceiveRequestAsync();
        await _peer.SendAsync(Reply(request, XenStoreMessageType.Directory, "a\0"));

        await Assert.ThrowsAsync<XenStoreConnectionException>(() => read);
    }

    [Fact]
    public async Task Unknown_error_name_is_passed_on_as_it_came()
    {
        var write = _client.WriteAsync("/x", "1");
        var request = await ReceiveRequestAsync();
        await _peer.SendAsync(Reply(request, XenStoreMessageType.Error, "EQUOTA\0"));

        var error = await Assert.ThrowsAsync<XenStoreErrorException>(() => write);
        Assert.Equal("EQUOTA", error.ErrorName);
    }
}
