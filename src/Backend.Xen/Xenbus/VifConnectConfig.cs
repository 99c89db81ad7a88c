namespace Backend.Xen.Xenbus;

/// <summary>
/// What a vif is connected with: the toolstack's keys, the frontend's, and the MTU they give (SIMXEN: the
/// backend's <c>mtu</c>, else the frontend's, else 1500), read afresh at every connect, and the frontend's
/// control ring, if it has one.
/// </summary>
public sealed record VifConnectConfig(BackendConfig Backend, FrontendConfig Frontend, int Mtu, FrontendCtrlRing? CtrlRing = null);
