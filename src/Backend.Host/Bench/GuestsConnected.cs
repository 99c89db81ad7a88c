namespace Backend.Host.Bench;

/// <summary>
/// A guest process's first report: how many guests, how long from the first vif's creation to all Connected,
/// and how much of that the toolstack's transactions took (the last vif created).
/// </summary>
internal sealed record GuestsConnected(int Guests, double ConnectSeconds, double CreateSeconds);
