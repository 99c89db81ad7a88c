using Backend.Xen.Xenbus;

namespace Backend.Xen.Tests.Xenbus;

public sealed class NetbackFeaturesTests
{
    [Fact]
    public void The_features_SIMXEN_requires_are_published_with_their_values()
    {
        var features = NetbackFeatures.All.ToDictionary(f => f.Key, f => f.Value, StringComparer.Ordinal);
        Assert.Equal("1", features["feature-rx-copy"]);
        Assert.Equal("0", features["feature-rx-flip"]);
        Assert.Equal("1", features["feature-sg"]);
        // As Linux's netback_probe with provides_xdp_headroom (its default).
        Assert.Equal("1", features["feature-xdp-headroom"]);
        // As Linux's netback_probe: multicast filtering, and request-multicast-control watched while connected.
        Assert.Equal("1", features["feature-multicast-control"]);
        Assert.Equal("1", features["feature-dynamic-multicast-control"]);
        // As Linux's netback_probe: the control ring (hashing), decision 82.
        Assert.Equal("1", features["feature-ctrl-ring"]);
    }

    [Fact]
    public void Each_feature_is_published_once_as_a_flag_and_the_queue_count_is_not_among_them()
    {
        Assert.Equal(NetbackFeatures.All.Count, NetbackFeatures.All.Select(f => f.Key).Distinct(StringComparer.Ordinal).Count());
        Assert.All(NetbackFeatures.All, f => Assert.True(XenStoreValue.TryParseFlag(f.Value, out _), $"{f.Key} = \"{f.Value}\" is not 0 or 1"));
        Assert.All(NetbackFeatures.All, f => Assert.StartsWith("feature-", f.Key, StringComparison.Ordinal));
        // multi-queue-max-queues is a number, the backend's setting: VifBackend publishes it beside these.
        Assert.DoesNotContain(NetbackFeatures.All, f => f.Key == NetbackFeatures.MaxQueuesKey);
    }
}
