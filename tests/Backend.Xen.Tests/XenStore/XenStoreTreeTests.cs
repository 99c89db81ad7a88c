using System.Collections.Immutable;
using System.Text;
using Backend.Xen.XenStore;
using Backend.Xen.XenStore.Server;

namespace Backend.Xen.Tests.XenStore;

public sealed class XenStoreTreeTests
{
    private readonly XenStoreTree _tree = new();
    private readonly List<XenStoreChange> _changes = [];

    private static byte[] Bytes(string s) => Encoding.ASCII.GetBytes(s);

    private string? Value(string path, XenStoreTreeTransaction? transaction = null) =>
        _tree.Read(path, transaction, out var value) is null ? Encoding.ASCII.GetString(value) : null;

    [Fact]
    public void Write_creates_missing_parents_with_empty_values()
    {
        Assert.Null(_tree.Write("/a/b/c", Bytes("v"), null, _changes));

        Assert.Equal("", Value("/a"));
        Assert.Equal("", Value("/a/b"));
        Assert.Equal("v", Value("/a/b/c"));
        _tree.Directory("/a", null, out var children);
        Assert.Equal(["b"], children);
        Assert.Equal([new XenStoreChange("/a/b/c", false)], _changes);
    }

    [Fact]
    public void New_node_inherits_its_parents_permissions()
    {
        _tree.Mkdir("/vm", null, _changes);
        _tree.SetPermissions("/vm", ["n3", "r0"], null, _changes);
        _tree.Write("/vm/x/y", Bytes("1"), null, _changes);

        _tree.GetPermissions("/vm/x/y", null, out var permissions);
        Assert.Equal(new[] { "n3", "r0" }, permissions.ToArray());
    }

    [Fact]
    public void Mkdir_of_an_existing_node_keeps_its_value_and_fires_nothing()
    {
        _tree.Write("/a", Bytes("keep"), null, _changes);
        _changes.Clear();

        Assert.Null(_tree.Mkdir("/a", null, _changes));
        Assert.Equal("keep", Value("/a"));
        Assert.Empty(_changes);
    }

    [Fact]
    public void Rm_removes_the_subtree_and_unlinks_it_from_its_parent()
    {
        _tree.Write("/a/b/c", Bytes("1"), null, _changes);
        _tree.Write("/a/b/d", Bytes("2"), null, _changes);
        var before = _tree.NodeCount;

        Assert.Null(_tree.Remove("/a/b", null, _changes));

        Assert.Null(Value("/a/b/c"));
        Assert.Null(Value("/a/b"));
        Assert.Equal(before - 3, _tree.NodeCount);
        _tree.Directory("/a", null, out var children);
        Assert.Empty(children);
    }

    [Fact]
    public void Rm_of_a_missing_node_is_ok_only_when_its_parent_exists()
    {
        _tree.Mkdir("/a", null, _changes);
        Assert.Null(_tree.Remove("/a/missing", null, _changes));
        Assert.Equal(XenStoreErrors.ENOENT, _tree.Remove("/nothing/missing", null, _changes));
        Assert.Equal(XenStoreErrors.EINVAL, _tree.Remove("/", null, _changes));
    }

    [Fact]
    public void Transaction_sees_its_own_writes_and_others_do_not_until_commit()
    {
        var transaction = new XenStoreTreeTransaction(1);
        _tree.Write("/t/x", Bytes("mine"), transaction, _changes);

        Assert.Equal("mine", Value("/t/x", transaction));
        Assert.Null(Value("/t/x"));
        Assert.Empty(_changes);

        Assert.True(_tree.Commit(transaction, _changes));
        Assert.Equal("mine", Value("/t/x"));
        Assert.Equal([new XenStoreChange("/t/x", false)], _changes);
    }

    [Fact]
    public void Commit_fails_when_a_node_the_transaction_read_changed_since()
    {
        _tree.Write("/t/x", Bytes("0"), null, _changes);
        var transaction = new XenStoreTreeTransaction(1);
        Assert.Equal("0", Value("/t/x", transaction));
        _tree.Write("/t/y", Bytes("own"), transaction, _changes);

        _tree.Write("/t/x", Bytes("1"), null, _changes);

        Assert.False(_tree.Commit(transaction, _changes));
        Assert.Null(Value("/t/y"));
    }

    [Fact]
    public void Commit_fails_when_a_node_the_transaction_found_missing_was_created_since()
    {
        var transaction = new XenStoreTreeTransaction(1);
        Assert.Null(Value("/t/x", transaction));
        _tree.Write("/t/x", Bytes("1"), null, _changes);

        Assert.False(_tree.Commit(transaction, _changes));
    }

    [Fact]
    public void Commit_succeeds_when_only_unrelated_nodes_changed()
    {
        _tree.Mkdir("/t", null, _changes);
        _tree.Mkdir("/u", null, _changes);
        var transaction = new XenStoreTreeTransaction(1);
        _tree.Write("/t/x", Bytes("1"), transaction, _changes);
        _tree.Write("/u/y", Bytes("2"), null, _changes);

        Assert.True(_tree.Commit(transaction, _changes));
    }

    [Fact]
    public void Two_transactions_adding_children_to_one_parent_both_commit_with_both_children()
    {
        _tree.Mkdir("/be/vif", null, _changes);
        _tree.Write("/be/vif/1/0/state", Bytes("4"), null, _changes);
        var first = new XenStoreTreeTransaction(1);
        var second = new XenStoreTreeTransaction(2);
        _tree.Write("/be/vif/2/0/state", Bytes("1"), first, _changes);
        _tree.Write("/be/vif/3/0/state", Bytes("1"), second, _changes);

        Assert.True(_tree.Commit(first, _changes));
        Assert.True(_tree.Commit(second, _changes));

        _tree.Directory("/be/vif", null, out var children);
        Assert.Equal(["1", "2", "3"], children.Order(StringComparer.Ordinal));
        Assert.Equal("1", Value("/be/vif/2/0/state"));
        Assert.Equal("1", Value("/be/vif/3/0/state"));
    }

    [Fact]
    public void A_transaction_removing_a_node_created_after_its_first_look_at_the_parent_commits_without_listing_it()
    {
        // Found by the xenstore fuzz target (corpus/xenstore/crash-ad05a8cc2d1c): the commit merged the
        // parent's children by comparing the transaction's copy with its first look, which predated /b, so
        // /b was removed but still listed by the root.
        var transaction = new XenStoreTreeTransaction(1);
        Assert.Null(_tree.Mkdir("/local/x", transaction, _changes));
        Assert.Null(_tree.Write("/b/b", Bytes("v"), null, _changes));
        Assert.Null(_tree.Remove("/b", transaction, _changes));

        Assert.True(_tree.Commit(transaction, _changes));

        _tree.Directory("/", null, out var children);
        Assert.Equal(["local"], children);
        Assert.Null(Value("/b"));
    }

    [Fact]
    public void A_transaction_creating_again_a_node_removed_since_its_first_look_at_the_parent_commits_listing_it()
    {
        // Found by the xenstore fuzz target (corpus/xenstore/crash-59fc6c604db2): /a was in the parent's
        // first look, removed by another client, then created by the transaction; the merge saw no change
        // of its own to the parent's children and left /a out.
        _tree.Mkdir("/a", null, _changes);
        var transaction = new XenStoreTreeTransaction(1);
        Assert.Null(_tree.Remove("/b", transaction, _changes));
        Assert.Null(_tree.Remove("/a", null, _changes));
        Assert.Null(_tree.Mkdir("/a/b", transaction, _changes));

        Assert.True(_tree.Commit(transaction, _changes));

        _tree.Directory("/", null, out var children);
        Assert.Equal(["a"], children);
        Assert.Equal("", Value("/a/b"));
    }

    [Fact]
    public void A_removal_and_a_concurrent_addition_under_one_parent_both_take_effect()
    {
        _tree.Write("/be/vif/1/0/state", Bytes("4"), null, _changes);
        var removal = new XenStoreTreeTransaction(1);
        Assert.Null(_tree.Remove("/be/vif/1", removal, _changes));
        _tree.Write("/be/vif/2/0/state", Bytes("1"), null, _changes);

        Assert.True(_tree.Commit(removal, _changes));

        _tree.Directory("/be/vif", null, out var children);
        Assert.Equal(["2"], children);
        Assert.Null(Value("/be/vif/1/0/state"));
    }

    [Fact]
    public void Commit_fails_when_a_parent_it_listed_gained_a_child_since()
    {
        _tree.Mkdir("/be/vif", null, _changes);
        var transaction = new XenStoreTreeTransaction(1);
        _tree.Directory("/be/vif", transaction, out _);
        _tree.Write("/be/vif/2/0/state", Bytes("1"), transaction, _changes);
        _tree.Write("/be/vif/3/0/state", Bytes("1"), null, _changes);

        Assert.False(_tree.Commit(transaction, _changes));
    }

    [Fact]
    public void Commit_fails_when_the_parent_it_added_to_was_removed_since()
    {
        _tree.Mkdir("/be/vif", null, _changes);
        var transaction = new XenStoreTreeTransaction(1);
        _tree.Write("/be/vif/2/0/state", Bytes("1"), transaction, _changes);
        _tree.Remove("/be/vif", null, _changes);

        Assert.False(_tree.Commit(transaction, _changes));
        Assert.Null(Value("/be/vif"));
    }

    [Fact]
    public void Commit_fails_when_another_created_the_same_new_node_first()
    {
        _tree.Mkdir("/be/vif", null, _changes);
        var first = new XenStoreTreeTransaction(1);
        var second = new XenStoreTreeTransaction(2);
        _tree.Write("/be/vif/2/0/state", Bytes("1"), first, _changes);
        _tree.Write("/be/vif/2/1/state", Bytes("1"), second, _changes);

        Assert.True(_tree.Commit(first, _changes));
        Assert.False(_tree.Commit(second, _changes));
    }

    [Fact]
    public void Rm_inside_a_transaction_hides_the_subtree_only_there()
    {
        _tree.Write("/a/b", Bytes("1"), null, _changes);
        var transaction = new XenStoreTreeTransaction(1);

        Assert.Null(_tree.Remove("/a", transaction, _changes));
        Assert.Null(Value("/a/b", transaction));
        Assert.Equal("1", Value("/a/b"));

        Assert.True(_tree.Commit(transaction, _changes));
        Assert.Null(Value("/a/b"));
        Assert.Null(Value("/a"));
    }

    [Fact]
    public void SetPermissions_of_a_missing_node_is_ENOENT()
    {
        Assert.Equal(XenStoreErrors.ENOENT, _tree.SetPermissions("/missing", ImmutableArray.Create("n0"), null, _changes));
    }
}
