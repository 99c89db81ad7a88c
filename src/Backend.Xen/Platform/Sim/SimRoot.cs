using System.Globalization;

namespace Backend.Xen.Platform.Sim;

/// <summary>
/// The sim root (SIMXEN.md "The root"): the one directory under which every simulated domain keeps its
/// files. At most 79 characters, so that <c>ROOT/dom&lt;D&gt;/evtchn</c> fits <c>sun_path</c>.
/// </summary>
public sealed class SimRoot
{
    public const int MaxPathLength = 79;
    public const int PageSize = 4096;

    /// <summary>Entries of a grant table; grant reference r is entry r.</summary>
    public const int GrantEntries = 8192;

    /// <summary>References 0 to 7 are reserved, as in Xen, and never used.</summary>
    public const int ReservedGrantReferences = 8;

    /// <summary>Event channel ports 0..4095; 0 is invalid.</summary>
    public const int EventChannelPorts = 4096;

    public const string MemoryFile = "memory";
    public const string GrantTableFile = "grant-table";
    public const string EventChannelSocket = "evtchn";
    public const string EventChannelPeersFile = "evtchn-peers";
    public const string EventChannelPendingFile = "evtchn-pending";

    private const UnixFileMode DirectoryMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    /// <summary>Uses (and creates if missing) the sim root at <paramref name="path"/>.</summary>
    public SimRoot(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var full = System.IO.Path.GetFullPath(path).TrimEnd('/');
        if (full.Length == 0)
            full = "/";
        if (full.Length > MaxPathLength)
            throw new ArgumentException($"the sim root must be at most {MaxPathLength} characters so that socket paths fit sun_path: {full} has {full.Length}", nameof(path));
        if (OperatingSystem.IsWindows() || !BitConverter.IsLittleEndian)
            throw new PlatformNotSupportedException("SIMXEN needs a little-endian Unix (its files are little-endian, its sockets AF_UNIX)");
        Path = full;
        Directory.CreateDirectory(Path, DirectoryMode);
    }

    public string Path { get; }

    /// <summary><c>ROOT/dom&lt;D&gt;</c>.</summary>
    public string DomainDirectory(ushort domid) =>
        System.IO.Path.Combine(Path, "dom" + domid.ToString(CultureInfo.InvariantCulture));

    /// <summary><c>ROOT/dom&lt;D&gt;/&lt;file&gt;</c>.</summary>
    public string DomainFile(ushort domid, string file) => System.IO.Path.Combine(DomainDirectory(domid), file);

    /// <summary>Creates <c>ROOT/dom&lt;D&gt;</c> if missing (mode 0700) and returns it.</summary>
    internal string CreateDomainDirectory(ushort domid)
    {
        var directory = DomainDirectory(domid);
        if (!OperatingSystem.IsWindows())
            Directory.CreateDirectory(directory, DirectoryMode);
        return directory;
    }

    public override string ToString() => Path;
}
