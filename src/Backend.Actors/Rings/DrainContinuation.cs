namespace Backend.Actors.Rings;

/// <summary>
/// A ring actor's note to itself that its ring may hold more than one turn's pass took: it yields its
/// lane's thread to every other actor there and takes the rest at its next turn (Linux: NAPI's budget).
/// At most one is outstanding per actor. A singleton, since it is sent on the data path.
/// </summary>
public sealed class DrainContinuation
{
    public static readonly DrainContinuation Instance = new();

    private DrainContinuation()
    {
    }
}
