using System.Runtime.Versioning;
using Backend.Host.Admin;
using Backend.Host.Hosting;
using Backend.Host.Tests.Support;

namespace Backend.Host.Tests.Admin;

/// <summary>Issue 17, part 4: the token and certificate files are read once at start, each problem one line.</summary>
[SupportedOSPlatform("linux")]
public sealed class AdminAccessTests
{
    private static (AdminAccess? Access, List<string> Errors, List<string> Warnings) Load(DaemonSettings settings)
    {
        Assert.Empty(DaemonSettingsValidator.Validate(settings));
        var errors = new List<string>();
        var warnings = new List<string>();
        return (AdminAccess.Load(settings, errors, warnings), errors, warnings);
    }

    [SkippableFact]
    public async Task A_token_file_of_mode_0600_gives_the_token_and_no_warning()
    {
        using var certs = await TestCertificates.CreateAsync();
        var file = certs.WriteFile("token", "0123456789abcdef0123\n");
        var (access, errors, warnings) = Load(new DaemonSettings { AdminTokenFile = file });
        Assert.Empty(errors);
        Assert.Empty(warnings);
        Assert.True(access!.Token!.Accepts("Bearer 0123456789abcdef0123"));
        Assert.Null(access.Certificate);
    }

    [SkippableFact]
    public async Task A_token_file_others_can_read_is_warned_about_with_its_mode()
    {
        using var certs = await TestCertificates.CreateAsync();
        var file = certs.WriteFile("token", "0123456789abcdef0123\n", UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        var (access, errors, warnings) = Load(new DaemonSettings { AdminTokenFile = file });
        Assert.Empty(errors);
        Assert.NotNull(access!.Token);
        var warning = Assert.Single(warnings);
        Assert.Contains("0644", warning, StringComparison.Ordinal);
        Assert.Contains(file, warning, StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task A_missing_empty_or_short_token_file_is_one_error_naming_the_setting()
    {
        using var certs = await TestCertificates.CreateAsync();
        AssertOneError(new DaemonSettings { AdminTokenFile = Path.Combine(certs.Directory, "none") }, "AdminTokenFile (--admin-token-file): ", "cannot read");
        AssertOneError(new DaemonSettings { AdminTokenFile = certs.WriteFile("empty", "\n") }, "AdminTokenFile (--admin-token-file): ", "is empty");
        AssertOneError(new DaemonSettings { AdminTokenFile = certs.WriteFile("short", "abc\n") }, "AdminTokenFile (--admin-token-file): ", "at least 16");
    }

    private static void AssertOneError(DaemonSettings settings, string setting, string expected)
    {
        var (access, errors, _) = Load(settings);
        Assert.Null(access);
        var error = Assert.Single(errors);
        Assert.StartsWith(setting, error, StringComparison.Ordinal);
        Assert.Contains(expected, error, StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task A_PEM_certificate_with_its_key_and_a_PKCS12_file_both_load_with_their_private_key()
    {
        using var certs = await TestCertificates.CreateAsync();
        var https = "https://127.0.0.1:0";
        var (pem, pemErrors, pemWarnings) = Load(new DaemonSettings { Admin = https, AdminCertificate = certs.ServerCertificate, AdminCertificateKey = certs.ServerKey });
        var (p12, p12Errors, p12Warnings) = Load(new DaemonSettings { Admin = https, AdminCertificate = certs.ServerPkcs12 });
        Assert.Empty(pemErrors.Concat(p12Errors));
        Assert.Empty(pemWarnings.Concat(p12Warnings));
        Assert.True(pem!.Certificate!.HasPrivateKey);
        Assert.Equal(pem.Certificate.Thumbprint, p12!.Certificate!.Thumbprint);
        Assert.True(p12.Certificate.HasPrivateKey);
    }

    [SkippableFact]
    public async Task A_certificate_without_its_key_or_not_a_certificate_is_one_error()
    {
        using var certs = await TestCertificates.CreateAsync();
        var garbage = certs.WriteFile("garbage.p12", "not a certificate at all");
        AssertOneError(new DaemonSettings { Admin = "https://127.0.0.1:0", AdminCertificate = certs.ServerCertificate }, "AdminCertificate (--admin-certificate): ", "no private key");
        AssertOneError(new DaemonSettings { Admin = "https://127.0.0.1:0", AdminCertificate = garbage }, "AdminCertificate (--admin-certificate): ", "cannot load");
    }

    [SkippableFact]
    public async Task A_private_key_others_can_read_is_warned_about()
    {
        using var certs = await TestCertificates.CreateAsync();
        File.SetUnixFileMode(certs.ServerKey, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.OtherRead);
        var (access, errors, warnings) = Load(new DaemonSettings { Admin = "https://127.0.0.1:0", AdminCertificate = certs.ServerCertificate, AdminCertificateKey = certs.ServerKey });
        Assert.Empty(errors);
        Assert.NotNull(access!.Certificate);
        Assert.Contains("AdminCertificateKey", Assert.Single(warnings), StringComparison.Ordinal);
    }
}
