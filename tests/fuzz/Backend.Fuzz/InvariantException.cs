namespace Backend.Fuzz;

/// <summary>A product invariant a fuzz target checks does not hold: a finding, whatever the input.</summary>
public sealed class InvariantException(string message) : Exception(message);
