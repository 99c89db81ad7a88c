namespace Backend.Host.Tests.Support;

/// <summary>The Debian packages the host's tests need, each checked with <see cref="Prerequisite"/> (CI fails, elsewhere skips).</summary>
public static class Prerequisites
{
    /// <summary>gcc and libxen-dev, for the bench to build cback from /work/shared/simxen-c.</summary>
    public static void RequireCbackBuild()
    {
        Prerequisite.Require(File.Exists("/usr/bin/gcc") || File.Exists("/usr/local/bin/gcc"), "gcc (apt-get install -y gcc)");
        Prerequisite.Require(File.Exists("/usr/include/xenstore.h") && File.Exists("/usr/include/xen/io/netif.h"), "libxen-dev (apt-get install -y libxen-dev)");
        Prerequisite.Require(File.Exists("/work/shared/simxen-c/build.sh"), "the simxen-c sources in /work/shared");
    }

    /// <summary>openssl, to make the certificates of the HTTPS tests.</summary>
    public static void RequireOpenssl() => Prerequisite.RequireFile("/usr/bin/openssl", "openssl");

    /// <summary>lintian and dpkg-deb, to build the package and check it.</summary>
    public static void RequireDebianPackaging()
    {
        Prerequisite.RequireFile("/usr/bin/dpkg-deb", "dpkg");
        Prerequisite.RequireFile("/usr/bin/lintian", "lintian");
    }

    /// <summary>promtool, to check and unit-test deploy/prometheus's rules (Debian ships it in prometheus).</summary>
    public static string RequirePromtool() => RequireProgram("promtool", "prometheus");

    /// <summary>Chromium, to load the status page headless as a browser would.</summary>
    public static string RequireChromium() => RequireProgram("chromium", "chromium");

    /// <summary>The program's path on PATH (or in /usr/bin), after <see cref="Prerequisite.Require"/> of its package.</summary>
    private static string RequireProgram(string program, string package)
    {
        var path = Prerequisite.FindOnPath(program) ?? (File.Exists("/usr/bin/" + program) ? "/usr/bin/" + program : null);
        Prerequisite.Require(path is not null, $"{program} (apt-get install {package})");
        return path!;
    }
}
