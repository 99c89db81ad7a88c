using Backend.Fuzz;
using Backend.Fuzz.XenStore;
using Backend.Xen.XenStore;

namespace Backend.Xen.Tests.Fuzz;

/// <summary>
/// The xenstore fuzz target's own cost: its check after every request followed every connection a script
/// had ever opened, so an input that closed connections thousands of times ran past AFL's timeout, and
/// AFL's kill of SharpFuzz's in-process fork server ended the campaign.
/// </summary>
public sealed class XenStoreServerTargetTests
{
    [Fact]
    public void A_script_that_closes_connections_thousands_of_times_leaves_the_check_following_only_a_bounded_few()
    {
        var script = new FuzzScript();
        for (var i = 0; i < 5000; i++)
        {
            // Each turn opens connection 0 (with its first request), writes a node under /local/domain, removes
            // it every other turn, and closes the connection: a connection gone that holds a node stays
            // followed, the others must not.
            var path = XenStoreServerTarget.PathOf(0, 1, 7 + i % 3);
            script.Byte(XenStoreServerTarget.OpOf(XenStoreMessageType.Write)).Byte(0).Bytes(path).Byte(1).Bytes("x"u8).Byte(0);
            if (i % 2 == 1)
                script.Byte(XenStoreServerTarget.OpOf(XenStoreMessageType.Rm)).Byte(0).Bytes(path).Byte(0);
            script.Byte(XenStoreServerTarget.Close);
        }
        var target = new XenStoreServerTarget();

        target.Run(script.ToArray());

        Assert.InRange(target.FollowedConnections, 0, 3 + XenStoreServerTarget.Options.MaxNodes);
    }
}
