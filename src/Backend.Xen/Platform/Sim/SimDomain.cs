using System.Net.Sockets;
using Backend.Xen.Platform.Native;

namespace Backend.Xen.Platform.Sim;

/// <summary>
/// "Domain D" (SIMXEN.md): the owner of <c>ROOT/dom&lt;D&gt;/</c>. The backend domain has event channel files
/// only; a guest also has <c>memory</c> and <c>grant-table</c>, created afresh. <c>evtchn-peers</c> and
/// <c>evtchn-pending</c> are kept when they exist (a restarted domain re-uses them, peers may have them
/// mapped); the <c>evtchn</c> socket is bound after unlinking a stale one, and then every pending word is
/// cleared once.
/// </summary>
public sealed class SimDomain : IDisposable
{
    private readonly SimMappedFile? _memory;
    private readonly SimGrantTable? _grantTable;
    private bool _disposed;

    private SimDomain(SimRoot root, ushort domid, int memoryPages)
    {
        if (domid >= Abi.DomId.FirstReserved)
            throw new ArgumentOutOfRangeException(nameof(domid), domid, $"domain ids are below DOMID_FIRST_RESERVED ({Abi.DomId.FirstReserved})");
        Root = root;
        DomId = domid;
        Directory = root.CreateDomainDirectory(domid);
        var opened = new List<SimMappedFile>(4);
        try
        {
            if (memoryPages > 0)
            {
                // Both before any xenstore key (our caller writes those), memory first: a user that finds
                // the new grant-table finds the new memory too.
                _memory = SimMappedFile.CreateAfresh(root.DomainFile(domid, SimRoot.MemoryFile), (nuint)memoryPages * SimRoot.PageSize, keepDescriptor: false);
                opened.Add(_memory);
                var table = SimMappedFile.CreateAfresh(root.DomainFile(domid, SimRoot.GrantTableFile), SimGrantTable.FileSize, keepDescriptor: false);
                opened.Add(table);
                _grantTable = new SimGrantTable(table);
                Granter = new SimGranter(_grantTable);
            }
            var peers = SimMappedFile.OpenOrCreate(root.DomainFile(domid, SimRoot.EventChannelPeersFile), SimEventChannelPeers.FileSize);
            opened.Add(peers);
            Peers = new SimEventChannelPeers(peers);
            var pending = SimMappedFile.OpenOrCreate(root.DomainFile(domid, SimRoot.EventChannelPendingFile), SimEventChannelPending.FileSize);
            opened.Add(pending);
            Pending = new SimEventChannelPending(pending);
            EventChannelSocket = BindSocket(root.DomainFile(domid, SimRoot.EventChannelSocket));
            Pending.ClearAll();
        }
        catch
        {
            foreach (var file in opened)
                file.Release();
            throw;
        }
    }

    public SimRoot Root { get; }

    public ushort DomId { get; }

    /// <summary><c>ROOT/dom&lt;D&gt;</c>.</summary>
    public string Directory { get; }

    /// <summary>Pages of memory (0 for the backend domain).</summary>
    public int MemoryPages => _memory is null ? 0 : (int)(_memory.Length / SimRoot.PageSize);

    /// <summary>The guest's grant references (null for the backend domain).</summary>
    public SimGranter? Granter { get; }

    internal SimEventChannelPeers Peers { get; }

    internal SimEventChannelPending Pending { get; }

    /// <summary>The bound <c>evtchn</c> socket; the event channel receive loop reads it.</summary>
    internal Socket EventChannelSocket { get; }

    /// <summary>The backend domain: event channel files only.</summary>
    public static SimDomain CreateBackend(SimRoot root, ushort domid) => new(root, domid, 0);

    /// <summary>A guest with <paramref name="memoryPages"/> pages of fresh memory and a fresh grant table.</summary>
    public static SimDomain CreateGuest(SimRoot root, ushort domid, int memoryPages)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(memoryPages, 1);
        return new(root, domid, memoryPages);
    }

    /// <summary>Page <paramref name="gfn"/> of this guest's own memory.</summary>
    public Span<byte> Page(uint gfn)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_memory is null)
            throw new InvalidOperationException($"domain {DomId} has no memory (it is the backend domain)");
        if (gfn >= MemoryPages)
            throw new ArgumentOutOfRangeException(nameof(gfn), gfn, $"domain {DomId} has {MemoryPages} pages");
        return _memory.Bytes((nuint)gfn * SimRoot.PageSize, SimRoot.PageSize);
    }

    /// <summary>This domain's own <c>evtchn-peers</c> entry for <paramref name="port"/>.</summary>
    public SimEventChannelEntry ReadEventChannelEntry(uint port) => Peers.Read(port);

    /// <summary>Whether <paramref name="port"/>'s bit is set in this domain's pending bitmap.</summary>
    public bool IsPending(uint port) => Pending.IsPending(port);

    /// <summary>Closes the socket and unmaps the files; they stay on disk (a restart re-uses the kept ones).</summary>
    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        EventChannelSocket.Dispose();
        Pending.File.Release();
        Peers.File.Release();
        _grantTable?.File.Release();
        _memory?.Release();
    }

    /// <summary>
    /// Disposes and removes <c>ROOT/dom&lt;D&gt;/</c> with its files, as the toolstack does when a guest dies.
    /// </summary>
    public void Remove()
    {
        Dispose();
        foreach (var file in new[] { SimRoot.EventChannelSocket, SimRoot.EventChannelPeersFile, SimRoot.EventChannelPendingFile, SimRoot.MemoryFile, SimRoot.GrantTableFile })
            FilePath.Unlink(Path.Combine(Directory, file));
        try
        {
            System.IO.Directory.Delete(Directory);
        }
        catch (IOException)
        {
            // Something else lives there too (admin-url, for instance): leave the directory.
        }
    }

    private static Socket BindSocket(string path)
    {
        FilePath.Unlink(path);
        var socket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        try
        {
            socket.Bind(new UnixDomainSocketEndPoint(path));
            if (!OperatingSystem.IsWindows())
                File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }
}
