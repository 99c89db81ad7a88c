using Backend.Xen.Xenbus;

namespace Backend.Xen.Tests.Xenbus;

/// <summary>The paths under <c>backend/vif</c> a watch reports, parsed as strictly as any value.</summary>
public sealed class VifPathsTests
{
    private const string Root = "/local/domain/0/backend/vif";

    [Fact]
    public void A_vifs_paths_are_those_libxl_and_xenbus_dev_fatal_use()
    {
        var paths = new VifPaths(0, new VifId(5, 1));
        Assert.Equal("/local/domain/0/backend/vif", VifPaths.BackendVifRoot(0));
        Assert.Equal("/local/domain/0/backend/vif/5/1", paths.BackendDir);
        Assert.Equal("/local/domain/0/backend/vif/5/1/state", paths.Backend("state"));
        Assert.Equal("/local/domain/0/error/backend/vif/5/1", paths.ErrorDir);
    }

    [Theory]
    [InlineData(Root)]
    [InlineData("/local/domain/0/backend")]
    [InlineData("/local/domain/0/backend/vifs/5")]
    [InlineData("/local/domain/1/backend/vif/5/0")]
    public void The_root_itself_or_a_path_outside_it_means_look_at_everything(string path) =>
        Assert.Equal(VifWatchPathKind.Root, VifPaths.ParseWatchPath(Root, path).Kind);

    [Fact]
    public void A_domain_a_vif_directory_and_a_vif_node_are_told_apart()
    {
        Assert.Equal(new VifWatchPath(VifWatchPathKind.Domain, new VifId(7, 0)), VifPaths.ParseWatchPath(Root, Root + "/7"));
        Assert.Equal(new VifWatchPath(VifWatchPathKind.VifDirectory, new VifId(7, 3)), VifPaths.ParseWatchPath(Root, Root + "/7/3"));
        Assert.Equal(new VifWatchPath(VifWatchPathKind.VifNode, new VifId(7, 3)), VifPaths.ParseWatchPath(Root, Root + "/7/3/hotplug-status"));
        Assert.Equal(new VifWatchPath(VifWatchPathKind.VifNode, new VifId(7, 3)), VifPaths.ParseWatchPath(Root, Root + "/7/3/a/b"));
        Assert.Equal(new VifWatchPath(VifWatchPathKind.Domain, new VifId(32751, 0)), VifPaths.ParseWatchPath(Root, Root + "/32751"));
        Assert.Equal(new VifWatchPath(VifWatchPathKind.VifDirectory, new VifId(0, uint.MaxValue)), VifPaths.ParseWatchPath(Root, Root + "/0/4294967295"));
    }

    [Theory]
    [InlineData("/")]
    [InlineData("//3")]
    [InlineData("/32752")]
    [InlineData("/65535/0")]
    [InlineData("/99999999999/0")]
    [InlineData("/-1/0")]
    [InlineData("/+5/0")]
    [InlineData("/ 5/0")]
    [InlineData("/0x10/0")]
    [InlineData("/x/0")]
    [InlineData("/5/")]
    [InlineData("/5//state")]
    [InlineData("/5/-1")]
    [InlineData("/5/4294967296")]
    [InlineData("/5/00000000001")]
    [InlineData("/5/h/state")]
    [InlineData("/\u0665/0")]
    public void Names_that_are_no_domain_id_or_no_handle_are_ignored(string rest) =>
        Assert.Equal(VifWatchPathKind.Ignored, VifPaths.ParseWatchPath(Root, Root + rest).Kind);

    [Theory]
    [InlineData("0", true, 0)]
    [InlineData("32751", true, 32751)]
    [InlineData("32752", false, 0)]
    [InlineData("32767", false, 0)]
    [InlineData("65536", false, 0)]
    [InlineData("", false, 0)]
    [InlineData("3 ", false, 0)]
    public void Directory_names_are_domain_ids_below_the_reserved_range(string text, bool valid, int expected)
    {
        Assert.Equal(valid, VifPaths.TryParseDomId(text, out var domid));
        Assert.Equal(expected, domid);
    }
}
