namespace Backend.Host.Tests.Support;

/// <summary>
/// Debian packages a test needs: with <c>CI=true</c> a missing one fails the test, otherwise it skips
/// (docs/engineering.md, "Tests").
/// </summary>
public static class Prerequisites
{
    /// <summary>gcc and libxen-dev, for the bench to build cback from /work/shared/simxen-c.</summary>
    public static void RequireCbackBuild()
    {
        Require(File.Exists("/usr/bin/gcc") || File.Exists("/usr/local/bin/gcc"), "gcc");
        Require(File.Exists("/usr/include/xenstore.h") && File.Exists("/usr/include/xen/io/netif.h"), "libxen-dev");
        Require(File.Exists("/work/shared/simxen-c/build.sh"), "the simxen-c sources in /work/shared");
    }

    /// <summary>openssl, to make the certificates of the HTTPS tests.</summary>
    public static void RequireOpenssl() => Require(File.Exists("/usr/bin/openssl"), "openssl", "openssl");

    /// <summary>lintian and dpkg-deb, to build the package and check it.</summary>
    public static void RequireDebianPackaging()
    {
        Require(File.Exists("/usr/bin/dpkg-deb"), "dpkg-deb", "dpkg");
        Require(File.Exists("/usr/bin/lintian"), "lintian", "lintian");
    }

    /// <summary>promtool, to check and unit-test deploy/prometheus's rules (Debian ships it in prometheus).</summary>
    public static string RequirePromtool() => RequireProgram("promtool", "prometheus");

    /// <summary>Chromium, to load the status page headless as a browser would.</summary>
    public static string RequireChromium() => RequireProgram("chromium", "chromium");

    /// <summary>The program's path on PATH (or in /usr/bin), after <see cref="Require"/> of its package.</summary>
    private static string RequireProgram(string program, string package)
    {
        var path = (Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Append("/usr/bin")
            .Select(dir => Path.Combine(dir, program))
            .FirstOrDefault(File.Exists);
        Require(path is not null, program, package);
        return path!;
    }

    private static void Require(bool present, string what, string packages = "gcc libxen-dev") =>
        RequireThat(present, $"{what} is missing (apt-get install -y {packages})");

    /// <summary>With <c>CI=true</c> a missing prerequisite fails the test (<paramref name="message"/> says why); otherwise it skips it.</summary>
    public static void RequireThat(bool present, string message)
    {
        if (present)
            return;
        if (string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase))
            Assert.Fail(message);
        Skip.If(true, message);
    }
}
