using System.Diagnostics;

namespace Backend.Xen.Tests.Sim;

/// <summary>
/// Another domain in another process: <c>simxen-peer.c</c> (beside this file) linked against the C
/// reference primitives of SIMXEN (<c>shared/simxen-c</c>, built with its own <c>build.sh</c>), driven one
/// command line at a time.
/// </summary>
public sealed class SimCPeer : IAsyncDisposable
{
    private static readonly Lazy<string> Executable = new(Build, LazyThreadSafetyMode.ExecutionAndPublication);

    private readonly Process _process;

    private SimCPeer(Process process) => _process = process;

    public static async Task<SimCPeer> StartAsync(string root, ushort domid, int pages)
    {
        RequirePrerequisites();
        var process = Process.Start(new ProcessStartInfo(Executable.Value, $"{root} {domid} {pages}")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        })!;
        var peer = new SimCPeer(process);
        Assert.Equal("ready", await peer.ReadLineAsync("start"));
        return peer;
    }

    /// <summary>Sends one command and returns its answer line.</summary>
    public async Task<string> CommandAsync(string command, int seconds = 20)
    {
        await _process.StandardInput.WriteLineAsync(command);
        await _process.StandardInput.FlushAsync();
        return await ReadLineAsync(command, seconds);
    }

    /// <summary>Sends a command whose answer is read later with <see cref="ReadLineAsync"/>.</summary>
    public async Task SendAsync(string command)
    {
        await _process.StandardInput.WriteLineAsync(command);
        await _process.StandardInput.FlushAsync();
    }

    public async Task<string> ReadLineAsync(string what, int seconds = 20)
    {
        try
        {
            var line = await _process.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(seconds));
            Assert.True(line is not null, $"the C peer exited during '{what}' (exit code {(_process.HasExited ? _process.ExitCode : -1)})");
            return line!;
        }
        catch (TimeoutException)
        {
            Assert.Fail($"the C peer did not answer '{what}' within {seconds} s");
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                await _process.StandardInput.WriteLineAsync("quit");
                await _process.StandardInput.FlushAsync();
                using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                try
                {
                    await _process.WaitForExitAsync(wait.Token);
                }
                catch (OperationCanceledException)
                {
                    _process.Kill();
                }
            }
        }
        finally
        {
            _process.Dispose();
        }
    }

    private static void RequirePrerequisites()
    {
        Prerequisite.RequireExecutable("gcc", "gcc");
        Prerequisite.RequireFile("/usr/include/xen/grant_table.h", "libxen-dev");
        Prerequisite.Require(SharedSimxenC() is not null, "shared/simxen-c/build.sh (the shared folder beside the repository)");
    }

    private static string? SharedSimxenC()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "shared", "simxen-c");
            if (File.Exists(Path.Combine(candidate, "build.sh")))
                return candidate;
        }
        return null;
    }

    private static string DriverSource()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "tests", "Backend.Xen.Tests", "Sim", "simxen-peer.c");
            if (File.Exists(candidate))
                return candidate;
        }
        throw new FileNotFoundException("tests/Backend.Xen.Tests/Sim/simxen-peer.c not found above " + AppContext.BaseDirectory);
    }

    private static string Build()
    {
        var shared = SharedSimxenC()!;
        var build = Directory.CreateTempSubdirectory("xnb-simxen-c-").FullName;
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try
            {
                Directory.Delete(build, recursive: true);
            }
            catch (IOException)
            {
            }
        };
        Run("/bin/bash", [Path.Combine(shared, "build.sh")], ("BUILD", build));
        var exe = Path.Combine(build, "simxen-peer");
        Run("gcc", ["-O2", "-Wall", "-Wextra", "-Werror", "-Wno-unused-parameter", "-I", shared, "-o", exe, DriverSource(), Path.Combine(build, "simxen.o")]);
        return exe;
    }

    private static void Run(string file, string[] arguments, params (string Name, string Value)[] environment)
    {
        var start = new ProcessStartInfo(file, arguments)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var (name, value) in environment)
            start.Environment[name] = value;
        using var p = Process.Start(start)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"{file} {string.Join(' ', arguments)} failed ({p.ExitCode}):\n{stdout.Result}{stderr.Result}");
    }
}
