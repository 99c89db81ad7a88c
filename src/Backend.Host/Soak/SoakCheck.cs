namespace Backend.Host.Soak;

/// <summary>One check of the soak: its name, whether it held, and the figures behind it.</summary>
internal sealed record SoakCheck(string Name, bool Passed, string Detail);
