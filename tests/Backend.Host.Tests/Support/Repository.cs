namespace Backend.Host.Tests.Support;

/// <summary>The checkout the tests run from: the folder above the test binaries that holds Backend.sln.</summary>
public static class Repository
{
    public static string Root { get; } = Find();

    private static string Find()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Backend.sln")))
                return dir.FullName;
        throw new InvalidOperationException($"no Backend.sln above {AppContext.BaseDirectory}");
    }
}
