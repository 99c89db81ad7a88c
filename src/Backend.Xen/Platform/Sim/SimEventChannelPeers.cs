namespace Backend.Xen.Platform.Sim;

/// <summary>A domain's <c>evtchn-peers</c> file: 4096 entries indexed by that domain's local port.</summary>
internal sealed class SimEventChannelPeers(SimMappedFile file)
{
    public const int FileSize = SimRoot.EventChannelPorts * sizeof(ulong);

    public SimMappedFile File { get; } = file;

    public SimEventChannelEntry Read(uint port) => SimEventChannelEntry.Unpack(Volatile.Read(ref Word(port)));

    public void Write(uint port, SimEventChannelEntry entry) => Interlocked.Exchange(ref Word(port), entry.Pack());

    public SimEventChannelEntry Exchange(uint port, SimEventChannelEntry entry) =>
        SimEventChannelEntry.Unpack(Interlocked.Exchange(ref Word(port), entry.Pack()));

    /// <summary>Replaces the entry only if it still is <paramref name="expected"/>.</summary>
    public bool CompareExchange(uint port, SimEventChannelEntry expected, SimEventChannelEntry value)
    {
        var e = expected.Pack();
        return Interlocked.CompareExchange(ref Word(port), value.Pack(), e) == e;
    }

    private ref ulong Word(uint port)
    {
        if (port >= SimRoot.EventChannelPorts)
            throw new ArgumentOutOfRangeException(nameof(port), port, "event channel ports are below 4096");
        return ref File.UInt64At((nuint)port * sizeof(ulong));
    }
}
