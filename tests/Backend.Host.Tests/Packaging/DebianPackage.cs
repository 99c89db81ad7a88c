using Backend.Host.Tests.Support;

namespace Backend.Host.Tests.Packaging;

/// <summary>
/// The package deploy/build-deb.sh builds, built once per test run (a self-contained ReadyToRun publish
/// takes one to four minutes) and unpacked with dpkg-deb for the tests to look into.
/// </summary>
public sealed class DebianPackage : IAsyncLifetime
{
    /// <summary>The publish, xz and all; generous for a first run that downloads the runtime packs.</summary>
    private static readonly TimeSpan BuildBound = TimeSpan.FromMinutes(15);

    private readonly string _directory = Path.Combine(Path.GetTempPath(), $"xnb-deb-{Guid.NewGuid():N}");
    private Task<string>? _build;

    public static string Repository => Support.Repository.Root;

    /// <summary>Where the package was unpacked (dpkg-deb -x): its files as they land under /.</summary>
    public string Unpacked => Path.Combine(_directory, "root");

    public string ControlDirectory => Path.Combine(_directory, "DEBIAN");

    /// <summary>Builds (once) and unpacks the package; returns its path.</summary>
    public Task<string> BuildAsync()
    {
        Prerequisites.RequireDebianPackaging();
        lock (this)
            return _build ??= Build();
    }

    private async Task<string> Build()
    {
        Directory.CreateDirectory(_directory);
        var (code, stdout, stderr) = await Command.RunAsync(Path.Combine(Repository, "deploy", "build-deb.sh"), ["-o", _directory], BuildBound);
        Assert.True(code == 0, $"build-deb.sh failed ({code}):\n{stderr}");
        var deb = stdout.Trim().Split('\n')[^1];
        foreach (var (flag, into) in new[] { ("-x", Unpacked), ("-e", ControlDirectory) })
        {
            var unpack = await Command.RunAsync("dpkg-deb", [flag, deb, into], TimeSpan.FromMinutes(2));
            Assert.True(unpack.Code == 0, $"dpkg-deb {flag}: {unpack.Stderr}");
        }
        return deb;
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync()
    {
        try { Directory.Delete(_directory, recursive: true); }
        catch (IOException) { }
        return Task.CompletedTask;
    }
}
