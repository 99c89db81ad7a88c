namespace Backend.Xen.Ctrl;

/// <summary>
/// One vif's hash configuration as its control ring last set it (<see cref="VifHashConfig"/>): written by
/// the ctrl ring's handler on the control path, read by the RX ring (and the queue choice) on the data
/// path. A reference swap: a reader sees either the old configuration or the new one, never half of each.
/// It lives with the vif's connection, so it outlives a restart of the ctrl ring's actor and a re-attach of
/// the data path; a new connection of the frontend starts from <see cref="VifHashConfig.Initial"/>.
/// </summary>
public sealed class VifHash
{
    private VifHashConfig _current = VifHashConfig.Initial;

    public VifHashConfig Current => Volatile.Read(ref _current);

    internal void Publish(VifHashConfig config) => Volatile.Write(ref _current, config);
}
