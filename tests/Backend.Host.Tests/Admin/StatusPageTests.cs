using Backend.Xen.Xenbus;
using System.Text.RegularExpressions;
using Backend.Actors.Status;
using Backend.Actors.Vif;
using Backend.Host.Admin;
using Backend.Host.Tests.Support;

namespace Backend.Host.Tests.Admin;

/// <summary><c>GET /</c>: the vifs as HTML, rates between refreshes, hostile strings encoded.</summary>
public sealed partial class StatusPageTests
{
    private readonly SteppedClock _clock = new();
    private readonly StatusPageSamples _samples;
    private readonly VifStatusRegistry _registry = new();

    public StatusPageTests() => _samples = new StatusPageSamples(_clock);

    private string Page(long? since = null)
    {
        var document = StatusDocument.From("sim", 0, _registry, []);
        var (now, before, seconds) = _samples.Take(document, since);
        return StatusPage.Render(document, "dom0-a", "0.1.0", now, before, seconds, StatusPage.DefaultRefreshSeconds);
    }

    private VifStatus Vif(ushort domid, string state = "Connected")
    {
        var v = _registry.GetOrAdd(new VifId(domid, 0));
        v.State = state;
        v.FrontendState = state;
        // As the vif's connection writes it: on from Connected (the tests that disable one turn it off).
        v.Carrier = state == "Connected";
        v.Mac = $"00:16:3e:00:00:{domid:x2}";
        v.Bridge = "xenbr0";
        v.Mtu = 1500;
        return v;
    }

    private static string CellOf(string html, string vif, string column)
    {
        var row = Row().Matches(html).Single(m => m.Groups["vif"].Value == vif).Value;
        return Regex.Match(row, $"<td data-col=\"{column}\">(?<v>[^<]*)</td>").Groups["v"].Value;
    }

    [GeneratedRegex("<tr data-vif=\"(?<vif>[^\"]+)\"[^>]*>.*?</tr>", RegexOptions.Singleline)]
    private static partial Regex Row();

    private static long SinceOf(string html) =>
        long.Parse(Regex.Match(html, "url=/\\?since=(?<id>[0-9]+)").Groups["id"].Value, System.Globalization.CultureInfo.InvariantCulture);

    [Fact]
    public void The_page_lists_every_vif_with_state_carrier_and_counters()
    {
        var up = Vif(3);
        up.RxDropped = 4;
        up.Faults = 2;
        var down = Vif(4, "InitWait");
        var disabled = Vif(5);
        disabled.Disabled = true;
        disabled.Carrier = false;
        var stalled = Vif(6);
        stalled.RxStalled = true;
        stalled.Carrier = false;
        stalled.RxStalls = 1;

        var html = Page();
        Assert.Equal(["vif3.0", "vif4.0", "vif5.0", "vif6.0"], Row().Matches(html).Select(m => m.Groups["vif"].Value));
        Assert.Equal("Connected", CellOf(html, "vif3.0", "state"));
        Assert.Equal("on", CellOf(html, "vif3.0", "carrier"));
        Assert.Equal("off", CellOf(html, "vif4.0", "carrier"));
        Assert.Equal("off", CellOf(html, "vif5.0", "carrier"));
        Assert.Equal("off (rx stalled)", CellOf(html, "vif6.0", "carrier"));
        Assert.Equal("4", CellOf(html, "vif3.0", "rx-dropped"));
        Assert.Equal("2", CellOf(html, "vif3.0", "faults"));
        Assert.Equal("00:16:3e:00:00:03", CellOf(html, "vif3.0", "mac"));
        Assert.Contains("class=\"disabled\"", Row().Matches(html).Single(m => m.Groups["vif"].Value == "vif5.0").Value, StringComparison.Ordinal);
        Assert.Contains("4 vifs, 3 connected, 3 carrier off, 1 disabled", html, StringComparison.Ordinal);
    }

    [Fact]
    public void Rates_are_the_change_of_the_counters_between_two_refreshes()
    {
        var v = Vif(3);
        v.TxPackets = 1000;
        v.TxBytes = 1_000_000;
        v.RxPackets = 50;
        var first = Page();
        Assert.Equal("–", CellOf(first, "vif3.0", "tx-pps"));
        Assert.Contains("rates from the next refresh", first, StringComparison.Ordinal);

        _clock.Advance(TimeSpan.FromSeconds(2));
        v.TxPackets += 400;
        v.TxBytes += 250_000;
        v.RxPackets += 3;
        var second = Page(SinceOf(first));
        Assert.Equal("200.0", CellOf(second, "vif3.0", "tx-pps"));
        Assert.Equal("1.00 M", CellOf(second, "vif3.0", "tx-bps"));
        Assert.Equal("1.5", CellOf(second, "vif3.0", "rx-pps"));
        Assert.Equal("0.0", CellOf(second, "vif3.0", "rx-drops"));
        Assert.Contains("rates over the last 2.0 s", second, StringComparison.Ordinal);
    }

    [Fact]
    public void Each_viewer_gets_the_rates_since_its_own_last_refresh()
    {
        var v = Vif(3);
        var mine = Page();
        _clock.Advance(TimeSpan.FromSeconds(4));
        v.TxPackets = 400;
        _ = Page(); // another viewer's page, a second ago
        _clock.Advance(TimeSpan.FromSeconds(1));
        v.TxPackets = 500;
        Assert.Equal("100.0", CellOf(Page(SinceOf(mine)), "vif3.0", "tx-pps"));
    }

    [Fact]
    public void A_first_visit_takes_rates_from_a_page_at_least_a_second_old_and_none_from_a_newer_one()
    {
        var v = Vif(3);
        _ = Page();
        _clock.Advance(TimeSpan.FromMilliseconds(500));
        v.TxPackets = 10;
        Assert.Equal("–", CellOf(Page(), "vif3.0", "tx-pps"));
        _clock.Advance(TimeSpan.FromMilliseconds(1500));
        v.TxPackets = 30;
        // Against the page of 2 s ago (the one of 1.5 s ago is old enough too, and newer): 20 frames in 1.5 s.
        Assert.Equal("13.3", CellOf(Page(), "vif3.0", "tx-pps"));
    }

    [Fact]
    public void A_counter_that_went_back_or_a_new_vif_shows_no_rate()
    {
        var v = Vif(3);
        v.TxPackets = 100;
        var first = Page();
        _clock.Advance(TimeSpan.FromSeconds(1));
        v.TxPackets = 10; // the vif was forgotten and served anew
        Vif(4).TxPackets = 5;
        var second = Page(SinceOf(first));
        Assert.Equal("–", CellOf(second, "vif3.0", "tx-pps"));
        Assert.Equal("–", CellOf(second, "vif4.0", "tx-pps"));
    }

    [Fact]
    public void Strings_a_guest_or_the_toolstack_wrote_are_html_encoded()
    {
        var v = Vif(3);
        v.Bridge = "<img src=x onerror=alert(1)>";
        v.Fault = "key = \"</td><script>alert(1)</script>\": not an unsigned integer";
        var html = Page();
        Assert.DoesNotContain("<script>", html, StringComparison.Ordinal);
        Assert.DoesNotContain("<img", html, StringComparison.Ordinal);
        Assert.Contains("&lt;script&gt;", html, StringComparison.Ordinal);
    }

    [Fact]
    public void The_page_refreshes_itself_to_a_url_naming_its_own_sample_and_says_which_way_tx_goes()
    {
        Vif(3);
        var first = Page();
        var second = Page();
        Assert.Equal(SinceOf(first) + 1, SinceOf(second));
        Assert.Contains($"<meta http-equiv=\"refresh\" content=\"{StatusPage.DefaultRefreshSeconds}; url=/?since=", first, StringComparison.Ordinal);
        Assert.Contains("TX is from the guest, RX to the guest", first, StringComparison.Ordinal);
    }

    [Fact]
    public void Only_the_last_samples_are_kept()
    {
        var v = Vif(3);
        var oldest = Page();
        for (var i = 0; i < StatusPageSamples.Kept; i++)
        {
            _clock.Advance(TimeSpan.FromMilliseconds(100));
            _ = Page();
        }
        _clock.Advance(TimeSpan.FromMilliseconds(100));
        v.TxPackets = 100;
        // The page named is gone; the newest page at least a second old (1.0 s ago, 100 frames since) stands in.
        Assert.Equal("100.0", CellOf(Page(SinceOf(oldest)), "vif3.0", "tx-pps"));
    }
}
