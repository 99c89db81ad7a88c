using Backend.Host.Hosting;

namespace Backend.Host.Tests.Cli;

/// <summary>Akka publishes only what Serilog would write: a dropped Info line costs no log event.</summary>
public sealed class LoggingLevelTests
{
    [Theory]
    [InlineData("Verbose", Akka.Event.LogLevel.DebugLevel)]
    [InlineData("debug", Akka.Event.LogLevel.DebugLevel)]
    [InlineData("Information", Akka.Event.LogLevel.InfoLevel)]
    [InlineData("Warning", Akka.Event.LogLevel.WarningLevel)]
    [InlineData("warning", Akka.Event.LogLevel.WarningLevel)]
    [InlineData("Error", Akka.Event.LogLevel.ErrorLevel)]
    [InlineData("Fatal", Akka.Event.LogLevel.ErrorLevel)]
    public void Akka_level_follows_the_log_level_setting(string setting, Akka.Event.LogLevel expected) =>
        Assert.Equal(expected, Logging.AkkaLevel(setting));
}
