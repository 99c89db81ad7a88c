using System.Buffers.Binary;
using System.Globalization;
using System.Text.RegularExpressions;
using Backend.Host.Tests.Support;

namespace Backend.Host.Tests.EndToEnd;

/// <summary>
/// <c>GET /</c> in a real browser: headless Chromium loads the status page of a running daemon whose demo
/// guests ping each other, and shows each vif Connected, carrier on, with its traffic as rates; and a
/// screenshot of it (docs/status-page.png is one, for the README).
/// </summary>
public sealed partial class StatusPageBrowserTests
{
    private static readonly TimeSpan Start = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan BrowserBound = TimeSpan.FromSeconds(90);

    /// <summary>Where the screenshot is left for a person to look at (and to copy to docs/).</summary>
    public static string ScreenshotPath => Path.Combine(Path.GetTempPath(), "xnb-status-page.png");

    [SkippableFact]
    public async Task Chromium_renders_the_vifs_of_a_running_daemon_with_their_traffic()
    {
        var chromium = Prerequisites.RequireChromium();
        await using var daemon = DaemonProcess.Start("--demo", "2");
        var url = (await daemon.WaitForLineAsync("ADMIN_URL=", Start))["ADMIN_URL=".Length..];
        await daemon.WaitForLineAsync("vifs 2/2 connected", Start);

        // A first look, as a person's previous refresh: the browser's page gets its rates against it.
        using var http = new HttpClient { BaseAddress = new Uri(url) };
        var first = await http.GetStringAsync("/");
        var since = Since().Match(first).Groups["id"].Value;
        await Task.Delay(TimeSpan.FromSeconds(2));
        var page = $"{url}/?since={since}";

        var profile = Directory.CreateTempSubdirectory("xnb-chromium-");
        try
        {
            await LookAt(chromium, profile.FullName, page);
        }
        finally
        {
            profile.Delete(recursive: true);
        }
        // An orderly stop removes the demo's sim root (a kill would leave it in /dev/shm).
        daemon.Signal(15);
        Assert.Equal(0, await daemon.WaitForExitAsync(TimeSpan.FromSeconds(30)));
    }

    private static async Task LookAt(string chromium, string profile, string page)
    {
        var dom = await Chromium(chromium, profile, ["--dump-dom", page]);
        var rows = Row().Matches(dom).ToDictionary(m => m.Groups["vif"].Value, m => m.Value);
        Assert.True(rows.Keys.Order().SequenceEqual(["vif1.0", "vif2.0"]), $"the page shows {string.Join(", ", rows.Keys)}:\n{dom}");
        foreach (var (vif, row) in rows)
        {
            Assert.Equal("Connected", Cell(row, "state"));
            Assert.Equal("on", Cell(row, "carrier"));
            // The demo's guests each send ten pings a second and answer ten: about 20 frames a second each way.
            foreach (var column in new[] { "tx-pps", "rx-pps" })
            {
                var text = Cell(row, column);
                Assert.True(double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var rate) && rate is > 5 and < 100,
                    $"{vif} {column} is '{text}', not the demo's ~20 frames/s");
            }
        }

        File.Delete(ScreenshotPath);
        await Chromium(chromium, profile, ["--hide-scrollbars", "--window-size=1280,300", $"--screenshot={ScreenshotPath}", page]);
        var png = await File.ReadAllBytesAsync(ScreenshotPath);
        Assert.True(png.AsSpan(0, 8).SequenceEqual<byte>([0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A]), "the screenshot is not a PNG");
        Assert.Equal(1280, BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(16))); // IHDR width
        Assert.True(png.Length > 10_000, $"a {png.Length}-byte screenshot is a blank page, not a table of vifs");
    }

    /// <summary>Runs headless Chromium (as root it needs --no-sandbox) and returns its stdout.</summary>
    private static async Task<string> Chromium(string chromium, string profile, string[] args)
    {
        var (code, stdout, stderr) = await Command.RunAsync(chromium,
            ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", $"--user-data-dir={profile}", .. args], BrowserBound);
        Assert.True(code == 0, $"chromium exited {code}:\n{stderr}");
        return stdout;
    }

    private static string Cell(string row, string column) =>
        Regex.Match(row, $"<td data-col=\"{column}\">(?<v>[^<]*)</td>").Groups["v"].Value;

    [GeneratedRegex("<tr data-vif=\"(?<vif>[^\"]+)\"[^>]*>.*?</tr>", RegexOptions.Singleline)]
    private static partial Regex Row();

    [GeneratedRegex("url=/\\?since=(?<id>[0-9]+)")]
    private static partial Regex Since();
}
