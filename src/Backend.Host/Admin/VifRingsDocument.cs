namespace Backend.Host.Admin;

/// <summary>A vif's private ring indices in <c>GET /status</c>.</summary>
public sealed record VifRingsDocument(uint TxReqCons, uint TxRspProd, uint RxReqCons, uint RxRspProd);
