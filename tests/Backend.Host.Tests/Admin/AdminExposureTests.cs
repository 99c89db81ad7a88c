using Backend.Host.Admin;

namespace Backend.Host.Tests.Admin;

/// <summary>Issue 12, finding 13: an admin endpoint bound beyond loopback is warned about at start.</summary>
public sealed class AdminExposureTests
{
    [Theory]
    [InlineData("http://127.0.0.1:0")]
    [InlineData("http://127.0.0.2:8080")]
    [InlineData("http://localhost:9000")]
    [InlineData("http://[::1]:9000")]
    public void A_loopback_admin_url_gets_no_warning(string url)
    {
        Assert.True(AdminExposure.IsLoopbackOnly(url));
        Assert.Null(AdminExposure.Warning(url));
    }

    [Theory]
    [InlineData("http://0.0.0.0:9000")]
    [InlineData("http://[::]:9000")]
    [InlineData("http://*:9000")]
    [InlineData("http://+:9000")]
    [InlineData("http://192.0.2.10:9000")]
    [InlineData("http://dom0.example:9000")]
    public void An_admin_url_beyond_loopback_is_warned_about_with_the_url(string url)
    {
        Assert.False(AdminExposure.IsLoopbackOnly(url));
        var warning = AdminExposure.Warning(url);
        Assert.NotNull(warning);
        Assert.Contains(url, warning);
        Assert.Contains("beyond loopback", warning);
    }
}
