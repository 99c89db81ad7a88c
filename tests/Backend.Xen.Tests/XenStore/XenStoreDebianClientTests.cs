using System.Diagnostics;
using Backend.Xen.XenStore;

namespace Backend.Xen.Tests.XenStore;

/// <summary>Debian's own xenstore clients (xenstore-utils' libxenstore, python3-pyxs) work against the embedded server unchanged.</summary>
public sealed class XenStoreDebianClientTests : IAsyncLifetime
{
    private static readonly TimeSpan ToolTimeout = TimeSpan.FromSeconds(20);

    private XenStoreTestServer _server = null!;
    private XenStoreClient _client = null!;

    public async Task InitializeAsync()
    {
        _server = await XenStoreTestServer.StartAsync();
        _client = await _server.ConnectAsync();
    }

    public async Task DisposeAsync()
    {
        await _client.DisposeAsync();
        await _server.DisposeAsync();
    }

    private ProcessStartInfo Tool(string executable, params string[] arguments)
    {
        var start = new ProcessStartInfo(executable)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
            start.ArgumentList.Add(argument);
        start.Environment["XENSTORED_PATH"] = _server.SocketPath;
        return start;
    }

    private async Task<string> RunAsync(string executable, params string[] arguments)
    {
        using var process = Process.Start(Tool(executable, arguments))!;
        using var cts = new CancellationTokenSource(ToolTimeout);
        var stdout = process.StandardOutput.ReadToEndAsync(cts.Token);
        var stderr = process.StandardError.ReadToEndAsync(cts.Token);
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"{executable} {string.Join(' ', arguments)} did not finish within {ToolTimeout}");
        }
        var output = await stdout;
        Assert.True(process.ExitCode == 0, $"{executable} {string.Join(' ', arguments)} exited with {process.ExitCode}: {output}{await stderr}");
        return output;
    }

    private static string RequireXenstoreUtils(string tool) => Prerequisite.RequireExecutable(tool, "xenstore-utils");

    [SkippableFact]
    public async Task Xenstore_write_and_read_round_trip_through_both_clients()
    {
        var write = RequireXenstoreUtils("xenstore-write");
        var read = RequireXenstoreUtils("xenstore-read");

        await RunAsync(write, "/local/domain/3/name", "from-cli", "/local/domain/3/memory/target", "262144");
        await _client.WriteAsync("/local/domain/3/uuid", "from-dotnet");

        Assert.Equal("from-cli", await _client.ReadAsync("/local/domain/3/name"));
        Assert.Equal(262144u, await _client.ReadUIntAsync("/local/domain/3/memory/target"));
        Assert.Equal("from-dotnet\n", await RunAsync(read, "/local/domain/3/uuid"));
    }

    [SkippableFact]
    public async Task Xenstore_ls_lists_values_and_permissions()
    {
        var ls = RequireXenstoreUtils("xenstore-ls");
        await _client.WriteAsync("/vm/a", "1");
        await _client.WriteAsync("/vm/b/c", "two");
        await _client.SetPermissionsAsync("/vm/b/c", ["n4", "r0"]);

        var output = await RunAsync(ls, "-p", "/vm");

        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Trim()).ToList();
        Assert.Contains(lines, l => l.StartsWith("a = \"1\"", StringComparison.Ordinal) && l.Contains("(n0)"));
        Assert.Contains(lines, l => l.StartsWith("c = \"two\"", StringComparison.Ordinal) && l.Contains("(n4,r0)"));
    }

    [SkippableFact]
    public async Task Xenstore_ls_lists_a_directory_too_long_for_one_reply()
    {
        var list = RequireXenstoreUtils("xenstore-list");
        var names = Enumerable.Range(0, 300).Select(i => $"entry-{i:D14}").ToList();
        await Task.WhenAll(names.Select(name => _client.MkdirAsync("/long/" + name)));

        var output = await RunAsync(list, "/long");

        Assert.Equal(names, output.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [SkippableFact]
    public async Task Xenstore_rm_removes_a_subtree()
    {
        var rm = RequireXenstoreUtils("xenstore-rm");
        await _client.WriteAsync("/gone/a/b", "1");

        await RunAsync(rm, "/gone/a");

        Assert.Null(await _client.ReadAsync("/gone/a/b"));
        Assert.Equal([], await _client.DirectoryAsync("/gone"));
    }

    [SkippableFact]
    public async Task Xenstore_chmod_sets_permissions_we_read_back()
    {
        var chmod = RequireXenstoreUtils("xenstore-chmod");
        await _client.WriteAsync("/perm/node", "x");

        await RunAsync(chmod, "/perm/node", "n7", "r0", "w3");

        Assert.Equal(["n7", "r0", "w3"], await _client.GetPermissionsAsync("/perm/node"));
    }

    [SkippableFact]
    public async Task Xenstore_watch_prints_the_initial_event_then_changes()
    {
        var watch = RequireXenstoreUtils("xenstore-watch");
        await _client.WriteAsync("/watched", "0");
        using var process = Process.Start(Tool(watch, "/watched"))!;
        try
        {
            using var cts = new CancellationTokenSource(ToolTimeout);
            var first = await process.StandardOutput.ReadLineAsync(cts.Token);
            Assert.Equal("/watched", first);

            await _client.WriteAsync("/watched/child", "1");

            var second = await process.StandardOutput.ReadLineAsync(cts.Token);
            Assert.Equal("/watched/child", second);
        }
        finally
        {
            // xenstore-watch runs until it is killed.
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }
    }

    [SkippableFact]
    public async Task Pyxs_client_uses_every_operation()
    {
        Prerequisite.RequireFile("/usr/bin/python3", "python3");
        Prerequisite.RequireFile("/usr/lib/python3/dist-packages/pyxs/__init__.py", "python3-pyxs");
        await _client.WriteAsync("/py/from-dotnet", "hello");
        var script = """
            import sys, pyxs
            with pyxs.Client(unix_socket_path=sys.argv[1]) as c:
                print(c.read(b"/py/from-dotnet").decode())
                c.write(b"/py/from-python", b"42")
                c.mkdir(b"/py/dir")
                print(",".join(sorted(p.decode() for p in c.list(b"/py"))))
                c.set_perms(b"/py/dir", [b"n2", b"r0"])
                print(",".join(p.decode() for p in c.get_perms(b"/py/dir")))
                print(c.get_domain_path(5).decode())
                c.transaction()
                c.write(b"/py/tx", b"committed")
                c.commit()
                print(c.read(b"/py/tx").decode())
                c.delete(b"/py/dir")
                print(c.exists(b"/py/dir"))
                with c.monitor() as m:
                    m.watch(b"/py", b"tok")
                    events = m.wait()
                    e = next(events)
                    print(e.path.decode(), e.token.decode())
                    with pyxs.Client(unix_socket_path=sys.argv[1]) as other:
                        other.write(b"/py/late", b"1")
                    e = next(events)
                    print(e.path.decode(), e.token.decode())
            """;

        var output = await RunAsync("/usr/bin/python3", "-c", script, _server.SocketPath);

        Assert.Equal(
            ["hello", "dir,from-dotnet,from-python", "n2,r0", "/local/domain/5", "committed", "False", "/py tok", "/py/late tok"],
            output.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal("42", await _client.ReadAsync("/py/from-python"));
    }
}
