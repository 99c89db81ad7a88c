using Backend.Xen.Platform;
using Backend.Xen.Platform.Linux;

namespace Backend.Xen.Tests.Linux;

public class XenPlatformDetectorTests
{
    private static readonly string Missing = Path.Combine(Path.GetTempPath(), $"xnb-no-gntdev-{Guid.NewGuid():N}");

    [Fact]
    public void Explicit_linux_without_gntdev_is_one_clear_error_naming_the_device()
    {
        var e = Assert.Throws<XenPlatformUnavailableException>(() => XenPlatformDetector.Detect("linux", Missing));
        Assert.Contains(Missing, e.Message);
        Assert.Contains("sim", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void Without_a_choice_a_missing_gntdev_means_simulated()
    {
        Assert.Equal(XenPlatformKind.Simulated, XenPlatformDetector.Detect(null, Missing));
        Assert.Equal(XenPlatformKind.Simulated, XenPlatformDetector.Detect("", Missing));
    }

    [Fact]
    public void Without_a_choice_a_present_gntdev_means_linux()
    {
        var present = Path.GetTempFileName();
        try
        {
            Assert.Equal(XenPlatformKind.Linux, XenPlatformDetector.Detect(null, present));
            Assert.Equal(XenPlatformKind.Linux, XenPlatformDetector.Detect("LINUX", present));
        }
        finally
        {
            File.Delete(present);
        }
    }

    [Fact]
    public void A_character_device_counts_as_present()
    {
        Assert.Equal(XenPlatformKind.Linux, XenPlatformDetector.Detect(null, "/dev/null"));
    }

    [Fact]
    public void Explicit_sim_wins_even_where_gntdev_exists()
    {
        Assert.Equal(XenPlatformKind.Simulated, XenPlatformDetector.Detect("sim", "/dev/null"));
    }

    [Fact]
    public void An_unknown_choice_names_the_allowed_ones()
    {
        var e = Assert.Throws<ArgumentException>(() => XenPlatformDetector.Detect("xen", Missing));
        Assert.Contains("'linux' or 'sim'", e.Message);
    }

    [Fact]
    public void Kernel_netback_loaded_gives_the_one_line_refusal_reason()
    {
        var module = Directory.CreateTempSubdirectory("xnb-xen_netback-");
        try
        {
            Assert.True(KernelNetbackCheck.IsLoaded(module.FullName));
            var reason = KernelNetbackCheck.RefusalReason(module.FullName);
            Assert.NotNull(reason);
            Assert.Contains("xen-netback", reason);
            Assert.Contains("EINVAL", reason);
            Assert.DoesNotContain('\n', reason);
        }
        finally
        {
            module.Delete();
        }
        Assert.False(KernelNetbackCheck.IsLoaded(module.FullName));
        Assert.Null(KernelNetbackCheck.RefusalReason(module.FullName));
    }
}
