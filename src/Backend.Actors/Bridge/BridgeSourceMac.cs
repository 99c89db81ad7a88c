namespace Backend.Actors.Bridge;

/// <summary>Which source MACs a vif's port on a learning bridge accepts (setting <c>BridgeSourceMac</c>).</summary>
public enum BridgeSourceMac
{
    /// <summary>
    /// Only the vif's configured <c>mac</c>; a frame from any other is dropped and counted, as with
    /// <c>vif-bridge</c> plus ebtables, so that a guest cannot take another's unicast traffic (the default).
    /// </summary>
    Locked,

    /// <summary>Any source, as a plain Linux bridge: for a guest that bridges or routes other machines' frames.</summary>
    Any,
}
