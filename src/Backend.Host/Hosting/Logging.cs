using Serilog;
using Serilog.Events;
using Serilog.Formatting.Compact;

namespace Backend.Host.Hosting;

/// <summary>
/// Serilog to stderr (stdout is kept for the lines SIMXEN launchers read: SIMXEN_ROOT, ADMIN_URL, READY),
/// as text or as compact JSON.
/// </summary>
public static class Logging
{
    public static void Configure(string format, string level)
    {
        var minimum = Enum.Parse<LogEventLevel>(level, ignoreCase: true);
        var config = new LoggerConfiguration()
            .MinimumLevel.Is(minimum)
            .MinimumLevel.Override("Microsoft", LogEventLevel.Warning)
            .Enrich.FromLogContext();
        config = format == "json"
            ? config.WriteTo.Console(new CompactJsonFormatter(), standardErrorFromLevel: LogEventLevel.Verbose)
            : config.WriteTo.Console(
                outputTemplate: "{Timestamp:HH:mm:ss.fff} {Level:u3} {Message:lj}{NewLine}{Exception}",
                standardErrorFromLevel: LogEventLevel.Verbose);
        Log.Logger = config.CreateLogger();
    }

    /// <summary>
    /// The level at which Akka publishes log events for <paramref name="level"/> (a validated --log-level):
    /// the same cut as Serilog's, except that it never goes above Error (Akka has no Fatal).
    /// </summary>
    public static Akka.Event.LogLevel AkkaLevel(string level) => Enum.Parse<LogEventLevel>(level, ignoreCase: true) switch
    {
        LogEventLevel.Verbose or LogEventLevel.Debug => Akka.Event.LogLevel.DebugLevel,
        LogEventLevel.Information => Akka.Event.LogLevel.InfoLevel,
        LogEventLevel.Warning => Akka.Event.LogLevel.WarningLevel,
        _ => Akka.Event.LogLevel.ErrorLevel,
    };
}
