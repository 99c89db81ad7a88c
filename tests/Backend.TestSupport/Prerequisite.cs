namespace Backend.TestSupport;

/// <summary>
/// Tests that need something from Debian (gcc, libxen-dev, xenstore-utils, python3-pyxs, openssl,
/// lintian, iproute2, ...) or from the host (root, /dev/net/tun) call this first. Under CI
/// (<c>CI=true</c>) a missing prerequisite fails the test, because CI installs them and a silent skip
/// would hide a broken install step; on a developer's machine it skips with the reason
/// (docs/engineering.md, "Tests"). The test must be a <c>[SkippableFact]</c> or <c>[SkippableTheory]</c>.
/// </summary>
public static class Prerequisite
{
    public static bool InCi =>
        string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);

    /// <param name="present">Whether the prerequisite is there.</param>
    /// <param name="what">What is missing and how to get it, e.g. "gcc (apt-get install gcc)".</param>
    public static void Require(bool present, string what)
    {
        if (present)
            return;
        if (InCi)
            Assert.Fail($"missing prerequisite with CI=true: {what}");
        Skip.If(true, $"missing prerequisite: {what}");
    }

    public static void RequireFile(string path, string package) =>
        Require(File.Exists(path), $"{path} (apt-get install {package})");

    /// <summary>The full path of an executable on PATH, or null.</summary>
    public static string? FindOnPath(string name)
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = Path.Combine(dir, name);
            if (File.Exists(candidate))
                return candidate;
        }
        return null;
    }

    public static string RequireExecutable(string name, string package)
    {
        var path = FindOnPath(name);
        Require(path is not null, $"{name} (apt-get install {package})");
        return path!;
    }
}
