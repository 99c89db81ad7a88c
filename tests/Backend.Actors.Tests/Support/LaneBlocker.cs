using Akka.Actor;

namespace Backend.Actors.Tests.Support;

/// <summary>
/// Holds the thread of the dispatcher it runs on (a lane has one) from its first message until the gate
/// opens, as a guest hogging its lane would; bounded, so that a failing test still ends.
/// </summary>
public sealed class LaneBlocker : ReceiveActor
{
    public LaneBlocker(ManualResetEventSlim started, ManualResetEventSlim gate) =>
        Receive<string>(_ =>
        {
            started.Set();
            gate.Wait(TimeSpan.FromSeconds(20));
        });
}
