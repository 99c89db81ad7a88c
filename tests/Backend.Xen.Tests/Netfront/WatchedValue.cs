using Backend.Xen.XenStore;

namespace Backend.Xen.Tests.Netfront;

/// <summary>Awaits a xenstore node reaching a value, woken by a watch (no polling, no sleeps).</summary>
public static class WatchedValue
{
    public static async Task WaitForAsync(IXenStore store, string path, Func<string?, bool> done, TimeSpan timeout)
    {
        var changed = new SemaphoreSlim(0);
        await using var watch = await store.WatchAsync(path, "wait:" + path, _ => changed.Release());
        using var cts = new CancellationTokenSource(timeout);
        string? value = null;
        try
        {
            while (!done(value = await store.ReadAsync(path)))
                await changed.WaitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            Assert.Fail($"{path} is \"{value ?? "(missing)"}\" after {timeout.TotalSeconds} s");
        }
    }

    public static Task WaitForAsync(IXenStore store, string path, string expected, TimeSpan timeout) =>
        WaitForAsync(store, path, v => v == expected, timeout);
}
