using Microsoft.Extensions.Hosting;

namespace Backend.Host.Hosting;

/// <summary>
/// The web host's lifetime: it waits for nothing and takes no signal. The daemon starts and stops the host
/// itself, and <see cref="Cli.StopSignals"/> owns SIGINT and SIGTERM; the default console lifetime would
/// also take SIGTERM and stop the application under the daemon's orderly stop (and, in a test process,
/// take the test host's own signals).
/// </summary>
internal sealed class CommandLineHostLifetime : IHostLifetime
{
    public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
