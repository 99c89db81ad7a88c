using Microsoft.Extensions.Configuration;

namespace Backend.Host.Hosting;

/// <summary>
/// Loads <see cref="DaemonSettings"/>: <c>appsettings.json</c> beside the executable (section "Xnb"), an
/// optional <c>--config</c> file, then <c>XNB_*</c> environment variables (<c>XNB_ADMIN</c>,
/// <c>XNB_SIMROOT</c>, ...); the command line is applied on top by the caller.
/// </summary>
public static class SettingsLoader
{
    public static DaemonSettings Load(string? configFile, IDictionary<string, string?>? environment = null)
    {
        var builder = new ConfigurationBuilder()
            .AddJsonFile(Path.Combine(AppContext.BaseDirectory, "appsettings.json"), optional: true);
        if (configFile is not null)
        {
            if (!File.Exists(configFile))
                throw new StartupException($"--config: {configFile} does not exist");
            builder.AddJsonFile(Path.GetFullPath(configFile), optional: false);
        }
        var env = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        foreach (var (key, value) in environment ?? ReadEnvironment())
            if (key.StartsWith("XNB_", StringComparison.OrdinalIgnoreCase))
                env["Xnb:" + key[4..].Replace("__", ":", StringComparison.Ordinal)] = value;
        builder.AddInMemoryCollection(env);

        var settings = new DaemonSettings();
        try
        {
            builder.Build().GetSection("Xnb").Bind(settings, o => o.ErrorOnUnknownConfiguration = true);
        }
        catch (InvalidOperationException ex)
        {
            throw new StartupException($"configuration: {ex.Message}");
        }
        catch (InvalidDataException ex)
        {
            throw new StartupException($"configuration: {ex.Message}");
        }
        return settings;
    }

    private static Dictionary<string, string?> ReadEnvironment()
    {
        var result = new Dictionary<string, string?>(StringComparer.Ordinal);
        foreach (System.Collections.DictionaryEntry e in Environment.GetEnvironmentVariables())
            result[(string)e.Key] = e.Value as string;
        return result;
    }
}
