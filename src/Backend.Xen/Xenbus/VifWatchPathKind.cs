namespace Backend.Xen.Xenbus;

/// <summary>What a path a watch on <c>backend/vif</c> reported names (<see cref="VifPaths.ParseWatchPath"/>).</summary>
public enum VifWatchPathKind
{
    /// <summary><c>backend/vif</c> itself (the watch's initial event, its creation or removal), or a path outside it: look at everything.</summary>
    Root,

    /// <summary><c>backend/vif/&lt;domid&gt;</c>: look at that domain's vifs.</summary>
    Domain,

    /// <summary><c>backend/vif/&lt;domid&gt;/&lt;handle&gt;</c>: the vif's directory came or went.</summary>
    VifDirectory,

    /// <summary>A node inside a vif's directory.</summary>
    VifNode,

    /// <summary>A name under <c>backend/vif</c> that is no domain id or no handle: nothing of ours.</summary>
    Ignored,
}
