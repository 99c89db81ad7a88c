using Backend.Actors.Bridge;
using Backend.Host.Hosting;

namespace Backend.Host.Tests.Cli;

/// <summary>The in-process bridges' settings: locked sources and a bounded table by default, bad values named.</summary>
public sealed class BridgeSettingsTests
{
    [Fact]
    public void Bridge_settings_default_to_locked_sources_and_a_bounded_table()
    {
        var settings = new DaemonSettings();
        Assert.Equal("locked", settings.BridgeSourceMac);
        Assert.Equal(BridgeOptions.DefaultMaxMacs, settings.BridgeMaxMacs);
        Assert.Empty(DaemonSettingsValidator.Validate(settings));
        Assert.Empty(DaemonSettingsValidator.Validate(new DaemonSettings { BridgeSourceMac = "any", BridgeMaxMacs = 16 }));
    }

    [Fact]
    public void A_bad_bridge_setting_gets_a_line_naming_it()
    {
        var errors = DaemonSettingsValidator.Validate(new DaemonSettings { BridgeSourceMac = "open", BridgeMaxMacs = 0 });
        Assert.Contains(errors, e => e.StartsWith("BridgeSourceMac: 'open'", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("BridgeMaxMacs: 0", StringComparison.Ordinal));
    }
}
