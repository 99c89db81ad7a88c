using System.Globalization;
using Backend.Actors.Status;
using Backend.Host.Sim;

namespace Backend.Host.Hosting;

/// <summary>One line per second on stdout: guests connected, packets/s both ways, errors and drops.</summary>
public static class SummaryPrinter
{
    public static async Task RunAsync(VifStatusRegistry status, DemoHost? demo, CancellationToken cancellationToken)
    {
        long lastTx = 0, lastRx = 0;
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1));
        while (await timer.WaitForNextTickAsync(cancellationToken))
        {
            long tx = 0, rx = 0, errors = 0, dropped = 0;
            var connected = 0;
            var vifs = status.Snapshot();
            foreach (var v in vifs)
            {
                tx += Interlocked.Read(ref v.TxPackets);
                rx += Interlocked.Read(ref v.RxPackets);
                errors += Interlocked.Read(ref v.TxErrors) + Interlocked.Read(ref v.Faults);
                dropped += Interlocked.Read(ref v.RxDropped);
                if (v.State == "Connected" && !v.Disabled)
                    connected++;
            }
            var line = string.Create(CultureInfo.InvariantCulture,
                $"vifs {connected}/{vifs.Count} connected  tx {tx - lastTx} pkt/s  rx {rx - lastRx} pkt/s  errors {errors}  dropped {dropped}");
            if (demo is not null)
                line += "  " + demo.Describe();
            Console.Out.WriteLine(line);
            lastTx = tx;
            lastRx = rx;
        }
    }
}
