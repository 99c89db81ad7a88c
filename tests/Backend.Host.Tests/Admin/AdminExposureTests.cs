using Backend.Host.Admin;

namespace Backend.Host.Tests.Admin;

/// <summary>
/// Issue 12, finding 13: an admin endpoint bound beyond loopback is warned about at start; issue 17: the
/// warning says what guards it (nothing, a token over http, a token over https).
/// </summary>
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
        Assert.Null(AdminExposure.Warning(url, tokenRequired: false));
        Assert.Null(AdminExposure.Warning(url, tokenRequired: true));
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
        var warning = AdminExposure.Warning(url, tokenRequired: false);
        Assert.NotNull(warning);
        Assert.Contains(url, warning);
        Assert.Contains("beyond loopback", warning);
        Assert.Contains("no authentication", warning);
    }

    [Fact]
    public void With_a_token_over_http_the_warning_says_the_token_is_asked_for_but_readable_on_the_wire()
    {
        var warning = AdminExposure.Warning("http://0.0.0.0:8690", tokenRequired: true)!;
        Assert.Contains("beyond loopback", warning);
        Assert.Contains("bearer token", warning);
        Assert.Contains("https://", warning);
        Assert.DoesNotContain("no authentication", warning);
    }

    [Fact]
    public void With_a_token_over_https_the_warning_says_only_what_guards_it()
    {
        var warning = AdminExposure.Warning("https://0.0.0.0:8690", tokenRequired: true)!;
        Assert.Contains("bearer token, over https", warning);
        Assert.DoesNotContain("no authentication", warning);
        Assert.DoesNotContain("plain http", warning);
    }
}
