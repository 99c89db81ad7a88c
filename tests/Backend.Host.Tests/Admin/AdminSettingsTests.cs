using Backend.Host.Hosting;

namespace Backend.Host.Tests.Admin;

/// <summary>Issue 17, part 4: the admin settings that cannot go together are one clear line each.</summary>
public sealed class AdminSettingsTests
{
    private static string Single(DaemonSettings s) => Assert.Single(DaemonSettingsValidator.Validate(s));

    [Fact]
    public void An_https_admin_url_with_a_certificate_is_valid()
    {
        Assert.Empty(DaemonSettingsValidator.Validate(new DaemonSettings { Admin = "https://127.0.0.1:8691", AdminCertificate = "/etc/xnb/admin.pem" }));
    }

    [Fact]
    public void An_https_admin_url_without_a_certificate_is_an_error()
    {
        var error = Single(new DaemonSettings { Admin = "https://0.0.0.0:8691" });
        Assert.StartsWith("AdminCertificate (--admin-certificate):", error, StringComparison.Ordinal);
        Assert.Contains("https", error, StringComparison.Ordinal);
    }

    [Fact]
    public void A_certificate_for_an_http_admin_url_is_an_error()
    {
        Assert.Contains("is http", Single(new DaemonSettings { AdminCertificate = "/etc/xnb/admin.pem" }), StringComparison.Ordinal);
    }

    [Fact]
    public void A_key_without_a_certificate_is_an_error()
    {
        Assert.StartsWith("AdminCertificateKey", Single(new DaemonSettings { AdminCertificateKey = "/etc/xnb/admin.key" }), StringComparison.Ordinal);
    }

    [Fact]
    public void A_token_and_a_token_file_together_are_an_error()
    {
        Assert.Contains("both given", Single(new DaemonSettings { AdminToken = "0123456789abcdef", AdminTokenFile = "/etc/xnb/token" }), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("ftp://127.0.0.1:1")]
    [InlineData("https://127.0.0.1:1/path")]
    public void An_admin_url_that_is_not_http_or_https_host_port_is_an_error(string url)
    {
        Assert.StartsWith("Admin (--admin):", DaemonSettingsValidator.Validate(new DaemonSettings { Admin = url })[0], StringComparison.Ordinal);
    }
}
