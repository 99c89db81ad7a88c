namespace Backend.Xen.Xenbus;

/// <summary>
/// A watch event's path under <c>backend/vif</c>, parsed (<see cref="VifPaths.ParseWatchPath"/>): its
/// <see cref="Kind"/> and, for a domain, its <see cref="VifId.DomId"/>, for a vif, the whole <see cref="Vif"/>.
/// </summary>
public readonly record struct VifWatchPath(VifWatchPathKind Kind, VifId Vif);
