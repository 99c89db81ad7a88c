namespace Backend.Fuzz;

/// <summary>A seed input, written as corpus/TARGET/seed-NAME.</summary>
public sealed record FuzzSeed(string Name, byte[] Input);
