namespace Backend.Xen.Netback;

/// <summary>What <see cref="RxQueue.Complete"/> did: the packets answered (failed copies included), their bytes, and whether the frontend is to be notified.</summary>
public readonly record struct RxCompletion(bool Notify, int Packets, long Bytes);
