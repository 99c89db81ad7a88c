namespace Backend.Host.Bench;

/// <summary>A guest process's first report: how many guests, and how long from the first vif's creation to all Connected.</summary>
internal sealed record GuestsConnected(int Guests, double ConnectSeconds);
