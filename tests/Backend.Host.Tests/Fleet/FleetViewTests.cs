using Backend.Host.Admin;
using Backend.Host.Fleet;

namespace Backend.Host.Tests.Fleet;

public sealed class FleetViewTests
{
    private static readonly VifCountersDocument Counters = new(7, 700, 1, 9, 900, 2, 0, 0, 0, 0, 0, 0, 0, 0);

    private static FleetHostDocument Host(string name, params FleetVifDocument[] vifs) =>
        new(name, 0, "0.1.0", "simulated Xen at /x", DateTimeOffset.UnixEpoch, 0, vifs);

    private static FleetVifDocument Vif(string name, bool carrier = true, bool disabled = false) =>
        new(name, 11, 0, "Connected", disabled, carrier, 0, 3, Counters);

    [Fact]
    public async Task With_the_cluster_off_the_fleet_is_this_host_alone()
    {
        var view = new FleetView(() => Host("dom0-a", Vif("vif11.0")), system: null);
        var fleet = await view.ReadAsync(CancellationToken.None);
        Assert.False(fleet.Cluster);
        var member = Assert.Single(fleet.Members);
        Assert.Equal(FleetDocument.LocalAddress, member.Address);
        Assert.True(member.Self);
        Assert.Equal("vif11.0", Assert.Single(member.Host!.Vifs).Name);
    }

    [Fact]
    public void The_fleet_table_has_a_line_per_vif_and_one_for_a_member_without_a_summary()
    {
        var fleet = new FleetDocument(true, "akka.tcp://xnb@10.0.0.1:4053",
        [
            new FleetMemberDocument("akka.tcp://xnb@10.0.0.1:4053", "Up", true, true, true, Host("dom0-a", Vif("vif11.0"), Vif("vif12.0", carrier: false))),
            new FleetMemberDocument("akka.tcp://xnb@10.0.0.2:4053", "Up", false, false, false, null),
            new FleetMemberDocument("akka.tcp://xnb@10.0.0.3:4053", "Up", true, false, false, Host("evil\u001b[2J", Vif("vif31.0", disabled: true))),
        ]);
        var lines = FleetTable.Format(fleet).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("fleet seen from 10.0.0.1:4053: 3 member(s), 1 unreachable, 3 vif(s)", lines[0]);
        Assert.StartsWith("HOST", lines[1], StringComparison.Ordinal);
        Assert.Equal(6, lines.Length);
        Assert.Matches(@"^dom0-a \(10\.0\.0\.1:4053\)\s+Up\s+yes\s+vif11\.0\s+Connected\s+on\s+7\s+1\s+9\s+2\s+3", lines[2]);
        Assert.Matches(@"vif12\.0\s+Connected\s+off", lines[3]);
        Assert.Matches(@"^10\.0\.0\.2:4053\s+Up\s+NO\s+\(no summary yet\)", lines[4]);
        Assert.DoesNotContain('\u001b', lines[5]);
        Assert.Matches(@"vif31\.0\s+Disabled", lines[5]);
        Assert.EndsWith("3 vif(s) (the other hosts' summaries did not answer in time)",
            FleetTable.Format(fleet with { Partial = true }).Split('\n')[0], StringComparison.Ordinal);
    }

    [Fact]
    public void The_status_page_lists_every_host_of_the_fleet_encoded()
    {
        var status = new StatusDocument("simulated Xen at /x", 0, 0, 0, [], []);
        var samples = new StatusPageSamples(TimeProvider.System);
        var (now, _, _) = samples.Take(status, null);
        var fleet = new FleetDocument(true, "akka.tcp://xnb@10.0.0.1:4053",
        [
            new FleetMemberDocument("akka.tcp://xnb@10.0.0.1:4053", "Up", true, true, true, Host("dom0-a", Vif("vif11.0"))),
            new FleetMemberDocument("akka.tcp://xnb@10.0.0.2:4053", "Up", false, false, false, Host("<b>dom0-b</b>", Vif("vif21.0"))),
        ]);
        var page = StatusPage.Render(status, "dom0-a", "0.1.0", now, null, 0, 5, fleet);
        Assert.Contains("<h2>Fleet: 2 host(s)</h2>", page, StringComparison.Ordinal);
        Assert.Contains("data-vif=\"vif11.0\"", page, StringComparison.Ordinal);
        Assert.Contains("data-vif=\"vif21.0\"", page, StringComparison.Ordinal);
        Assert.Contains("&lt;b&gt;dom0-b&lt;/b&gt;", page, StringComparison.Ordinal);
        Assert.DoesNotContain("<b>dom0-b", page, StringComparison.Ordinal);
        Assert.DoesNotContain("id=\"fleet\"", StatusPage.Render(status, "dom0-a", "0.1.0", now, null, 0, 5), StringComparison.Ordinal);
    }
}
