using System.Net.Sockets;
using System.Threading.Channels;
using Backend.Xen.XenStore.Server;

namespace Backend.Xen.Tests.XenStore;

/// <summary>
/// The accept loop when accepting fails (EMFILE, ENFILE, ENOBUFS: the listener stays readable, so retrying
/// at once would spin a core): it waits, 10 ms doubling to 1 s, and starts from 10 ms after a success.
/// </summary>
public sealed class XenStoreAcceptBackoffTests
{
    private const int Succeed = 0;
    private const int FailAtOnce = 1;
    private const int FailOnArrival = 2;

    private int _mode = FailAtOnce;
    private int _attempts;
    private readonly Channel<(TimeSpan Delay, TaskCompletionSource Done)> _delays = Channel.CreateUnbounded<(TimeSpan, TaskCompletionSource)>();

    private XenStoreAcceptHooks Hooks() => new(
        async (listener, cancellationToken) =>
        {
            Interlocked.Increment(ref _attempts);
            if (Volatile.Read(ref _mode) == FailAtOnce)
                throw new SocketException((int)SocketError.TooManyOpenSockets);
            var socket = await listener.AcceptAsync(cancellationToken);
            if (Volatile.Read(ref _mode) == FailOnArrival)
            {
                socket.Dispose();
                throw new SocketException((int)SocketError.NoBufferSpaceAvailable);
            }
            return socket;
        },
        (delay, cancellationToken) =>
        {
            var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _delays.Writer.TryWrite((delay, done));
            return done.Task.WaitAsync(cancellationToken);
        });

    private async Task<(TimeSpan Delay, TaskCompletionSource Done)> NextDelayAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        try
        {
            return await _delays.Reader.ReadAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            Assert.Fail($"the accept loop did not wait after a failed accept: {Volatile.Read(ref _attempts)} attempts in 5 s");
            throw;
        }
    }

    [Fact]
    public async Task Failing_accept_backs_off_10_ms_doubling_to_1_s_and_starts_again_after_a_success()
    {
        // Started on the thread pool and awaited with a bound: a loop that retries without waiting never
        // yields, and would keep even the start from returning.
        var starting = Task.Run(() => XenStoreTestServer.StartAsync(acceptHooks: Hooks()));
        try
        {
            await starting.WaitAsync(TimeSpan.FromSeconds(5));
        }
        catch (TimeoutException)
        {
            var spun = Volatile.Read(ref _attempts);
            // Let the loop block in a real accept so that it stops spinning for the rest of the run.
            Volatile.Write(ref _mode, Succeed);
            Assert.Fail($"the server did not start within 5 s: its accept loop retried {spun} times without waiting");
        }
        await using var server = await starting;
        int[] expected = [10, 20, 40, 80, 160, 320, 640, 1000, 1000];
        for (var i = 0; i < expected.Length; i++)
        {
            var (delay, done) = await NextDelayAsync();
            Assert.Equal(TimeSpan.FromMilliseconds(expected[i]), delay);
            // One attempt per wait: the loop is not trying again while it waits.
            Assert.Equal(i + 1, Volatile.Read(ref _attempts));
            if (i == expected.Length - 1)
                Volatile.Write(ref _mode, Succeed);
            done.SetResult();
        }

        await using (var client = await server.ConnectAsync())
        {
            await client.WriteAsync("/served", "after the failures");
            Assert.Equal("after the failures", await client.ReadAsync("/served"));
        }
        Assert.Equal(expected.Length, server.Server.Statistics.AcceptFailures);

        Volatile.Write(ref _mode, FailOnArrival);
        using var refused = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await refused.ConnectAsync(new UnixDomainSocketEndPoint(server.SocketPath));
        var (again, resume) = await NextDelayAsync();
        Assert.Equal(TimeSpan.FromMilliseconds(10), again);
        Volatile.Write(ref _mode, Succeed);
        resume.SetResult();
        await using var next = await server.ConnectAsync();
        Assert.Null(await next.ReadAsync("/missing"));
    }
}
