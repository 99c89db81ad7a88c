using Backend.Xen.Tests.Support;
using Backend.Xen.XenStore;

namespace Backend.Xen.Tests.XenStore;

public sealed class XenStoreWireTests
{
    [Fact]
    public void Header_is_four_little_endian_u32()
    {
        var bytes = new byte[XenStoreMessageHeader.Size];
        new XenStoreMessageHeader(XenStoreMessageType.Write, 0x01020304, 0x0a0b0c0d, 0x11).Write(bytes);

        Assert.Equal(new byte[] { 11, 0, 0, 0, 4, 3, 2, 1, 0x0d, 0x0c, 0x0b, 0x0a, 0x11, 0, 0, 0 }, bytes);
        Assert.Equal(new XenStoreMessageHeader(XenStoreMessageType.Write, 0x01020304, 0x0a0b0c0d, 0x11), XenStoreMessageHeader.Read(bytes));
    }

    [SkippableFact]
    public void Message_types_errors_and_limits_match_xs_wire_h()
    {
        var output = CProbe.CompileAndRun("""
            #include <stdio.h>
            #include <stdint.h>
            #include <errno.h>
            #include <xen/io/xs_wire.h>
            #define P(x) printf(#x " %ld\n", (long)(x));
            int main(void) {
                P(XS_CONTROL) P(XS_DEBUG) P(XS_DIRECTORY) P(XS_READ) P(XS_GET_PERMS) P(XS_WATCH) P(XS_UNWATCH)
                P(XS_TRANSACTION_START) P(XS_TRANSACTION_END) P(XS_INTRODUCE) P(XS_RELEASE) P(XS_GET_DOMAIN_PATH)
                P(XS_WRITE) P(XS_MKDIR) P(XS_RM) P(XS_SET_PERMS) P(XS_WATCH_EVENT) P(XS_ERROR)
                P(XS_IS_DOMAIN_INTRODUCED) P(XS_RESUME) P(XS_SET_TARGET) P(XS_RESET_WATCHES) P(XS_DIRECTORY_PART)
                P(XS_TYPE_COUNT) P(XS_INVALID)
                P(XENSTORE_PAYLOAD_MAX) P(XENSTORE_ABS_PATH_MAX) P(XENSTORE_REL_PATH_MAX)
                printf("SIZEOF_XSD_SOCKMSG %zu\n", sizeof(struct xsd_sockmsg));
                for (unsigned i = 0; i < sizeof(xsd_errors) / sizeof(xsd_errors[0]); i++)
                    printf("error%u %s\n", i, xsd_errors[i].errstring);
                return 0;
            }
            """, "/usr/include/xen/io/xs_wire.h");
        var values = CProbe.ParseValues(output);

        void Check(string name, long expected) =>
            Assert.True(values.TryGetValue(name, out var actual) && actual == expected, $"{name}: xs_wire.h says {(values.TryGetValue(name, out var v) ? v : "nothing")}, we say {expected}");

        Check("XS_CONTROL", (long)XenStoreMessageType.Control);
        Check("XS_DEBUG", (long)XenStoreMessageType.Control);
        Check("XS_DIRECTORY", (long)XenStoreMessageType.Directory);
        Check("XS_READ", (long)XenStoreMessageType.Read);
        Check("XS_GET_PERMS", (long)XenStoreMessageType.GetPerms);
        Check("XS_WATCH", (long)XenStoreMessageType.Watch);
        Check("XS_UNWATCH", (long)XenStoreMessageType.Unwatch);
        Check("XS_TRANSACTION_START", (long)XenStoreMessageType.TransactionStart);
        Check("XS_TRANSACTION_END", (long)XenStoreMessageType.TransactionEnd);
        Check("XS_INTRODUCE", (long)XenStoreMessageType.Introduce);
        Check("XS_RELEASE", (long)XenStoreMessageType.Release);
        Check("XS_GET_DOMAIN_PATH", (long)XenStoreMessageType.GetDomainPath);
        Check("XS_WRITE", (long)XenStoreMessageType.Write);
        Check("XS_MKDIR", (long)XenStoreMessageType.Mkdir);
        Check("XS_RM", (long)XenStoreMessageType.Rm);
        Check("XS_SET_PERMS", (long)XenStoreMessageType.SetPerms);
        Check("XS_WATCH_EVENT", (long)XenStoreMessageType.WatchEvent);
        Check("XS_ERROR", (long)XenStoreMessageType.Error);
        Check("XS_IS_DOMAIN_INTRODUCED", (long)XenStoreMessageType.IsDomainIntroduced);
        Check("XS_RESUME", (long)XenStoreMessageType.Resume);
        Check("XS_SET_TARGET", (long)XenStoreMessageType.SetTarget);
        Check("XS_RESET_WATCHES", (long)XenStoreMessageType.ResetWatches);
        Check("XS_DIRECTORY_PART", (long)XenStoreMessageType.DirectoryPart);
        Check("XS_TYPE_COUNT", (long)XenStoreMessageType.TypeCount);
        Check("XS_INVALID", (long)XenStoreMessageType.Invalid);
        Check("XENSTORE_PAYLOAD_MAX", XenStoreLimits.PayloadMax);
        Check("XENSTORE_ABS_PATH_MAX", XenStoreLimits.AbsolutePathMax);
        Check("XENSTORE_REL_PATH_MAX", XenStoreLimits.RelativePathMax);
        Check("SIZEOF_XSD_SOCKMSG", XenStoreMessageHeader.Size);

        var errors = output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Where(line => line.StartsWith("error", StringComparison.Ordinal))
            .Select(line => line.Split(' ')[1])
            .ToList();
        Assert.Equal(errors, XenStoreErrors.All);
    }

    [Theory]
    [InlineData("/", true)]
    [InlineData("/local/domain/0/backend/vif/1/0", true)]
    [InlineData("/a-b_c@d/E9", true)]
    [InlineData("", false)]
    [InlineData("local/domain", false)]
    [InlineData("/local/", false)]
    [InlineData("/local//domain", false)]
    [InlineData("/local domain", false)]
    [InlineData("/local/dom.ain", false)]
    [InlineData("/caf\u00e9", false)]
    [InlineData("@introduceDomain", false)]
    public void Path_validity_follows_xenstored(string path, bool valid) =>
        Assert.Equal(valid, XenStorePath.IsValid(path, allowSpecial: false));

    [Theory]
    [InlineData("domid", true)]
    [InlineData("device/vif/0", true)]
    [InlineData("", false)]
    [InlineData("/domid", false)]
    [InlineData("domid/", false)]
    [InlineData("device//vif", false)]
    [InlineData("@introduceDomain", false)]
    [InlineData("dom id", false)]
    public void Relative_path_validity_follows_xenstored(string path, bool valid) =>
        Assert.Equal(valid, XenStorePath.IsValidRelative(path));

    [Fact]
    public void Relative_path_longer_than_XENSTORE_REL_PATH_MAX_is_invalid()
    {
        var longest = new string('a', XenStoreLimits.RelativePathMax);
        Assert.True(XenStorePath.IsValidRelative(longest));
        Assert.False(XenStorePath.IsValidRelative(longest + "a"));
    }

    [Fact]
    public void Special_watch_paths_are_valid_only_where_allowed()
    {
        Assert.True(XenStorePath.IsValid("@introduceDomain", allowSpecial: true));
        Assert.True(XenStorePath.IsValid("@releaseDomain", allowSpecial: true));
        Assert.False(XenStorePath.IsValid("@somethingElse", allowSpecial: true));
    }

    [Fact]
    public void Path_longer_than_XENSTORE_ABS_PATH_MAX_is_invalid()
    {
        var longest = "/" + new string('a', XenStoreLimits.AbsolutePathMax - 1);
        Assert.True(XenStorePath.IsValid(longest, allowSpecial: false));
        Assert.False(XenStorePath.IsValid(longest + "a", allowSpecial: false));
    }

    [Theory]
    [InlineData("n0", true)]
    [InlineData("r5", true)]
    [InlineData("w65535", true)]
    [InlineData("b12", true)]
    [InlineData("x0", false)]
    [InlineData("n", false)]
    [InlineData("n65536", false)]
    [InlineData("n-1", false)]
    [InlineData("r 5", false)]
    public void Permission_text_form_is_a_letter_and_a_domid(string permission, bool valid) =>
        Assert.Equal(valid, XenStorePermission.IsValid(permission));

    [Fact]
    public void Path_helpers_handle_the_root()
    {
        Assert.Equal("/", XenStorePath.Parent("/local"));
        Assert.Equal("/local", XenStorePath.Parent("/local/domain"));
        Assert.Equal("/local", XenStorePath.Child("/", "local"));
        Assert.Equal("domain", XenStorePath.Name("/local/domain"));
        Assert.True(XenStorePath.IsAtOrBelow("/a/b", "/a"));
        Assert.True(XenStorePath.IsAtOrBelow("/a", "/"));
        Assert.False(XenStorePath.IsAtOrBelow("/ab", "/a"));
    }
}
