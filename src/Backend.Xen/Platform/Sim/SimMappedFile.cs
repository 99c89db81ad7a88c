using System.Runtime.CompilerServices;
using static Tmds.Linux.LibC;
using Backend.Xen.Platform.Native;

namespace Backend.Xen.Platform.Sim;

/// <summary>
/// One SIMXEN file mapped MAP_SHARED, with the identity it had when opened. Reference counted, because a
/// foreign domain's files may be replaced (the guest restarted) while a copy or a ring mapping still
/// uses the old ones: the mapping goes away with its last user. Offsets given to the accessors are
/// computed by our own code from validated values, never taken from shared memory.
/// </summary>
internal sealed unsafe class SimMappedFile
{
    private readonly byte* _address;
    private readonly FileDescriptor? _descriptor;
    private SimReferenceCount _references = SimReferenceCount.One;

    private SimMappedFile(string path, byte* address, nuint length, FileIdentity identity, FileDescriptor? descriptor)
    {
        Path = path;
        _address = address;
        Length = length;
        Identity = identity;
        _descriptor = descriptor;
    }

    public string Path { get; }

    public nuint Length { get; }

    public FileIdentity Identity { get; }

    /// <summary>
    /// Creates a new file of <paramref name="length"/> bytes (mode 0600), unlinking an old one first:
    /// another process may still have the old one mapped, and truncating it under them would fault.
    /// </summary>
    public static SimMappedFile CreateAfresh(string path, nuint length, bool keepDescriptor)
    {
        FilePath.Unlink(path);
        var fd = FileDescriptor.OpenIfExists(path, O_RDWR | O_CREAT | O_EXCL) ?? throw new IOException($"cannot create {path}");
        return MapWhole(path, fd, length, truncate: true, keepDescriptor);
    }

    /// <summary>Opens the file if it is there (keeping its content and inode), else creates it.</summary>
    public static SimMappedFile OpenOrCreate(string path, nuint length)
    {
        var fd = FileDescriptor.OpenIfExists(path, O_RDWR | O_CREAT) ?? throw new IOException($"cannot create {path}");
        return MapWhole(path, fd, length, truncate: true, keepDescriptor: false);
    }

    /// <summary>
    /// Opens another domain's file; null when it is not there or shorter than
    /// <paramref name="minimumLength"/>. With <paramref name="wholePages"/> the whole file is mapped,
    /// rounded down to pages (a memory file); else exactly <paramref name="minimumLength"/> bytes.
    /// </summary>
    public static SimMappedFile? TryOpen(string path, nuint minimumLength, bool wholePages, bool keepDescriptor)
    {
        var fd = FileDescriptor.OpenIfExists(path, O_RDWR);
        if (fd is null)
            return null;
        var identity = fd.Stat();
        if (identity.Size < (long)minimumLength)
        {
            fd.Dispose();
            return null;
        }
        var length = wholePages ? (nuint)(identity.Size & ~(long)(SimRoot.PageSize - 1)) : minimumLength;
        return MapWhole(path, fd, length, truncate: false, keepDescriptor);
    }

    private static SimMappedFile MapWhole(string path, FileDescriptor fd, nuint length, bool truncate, bool keepDescriptor)
    {
        try
        {
            var identity = fd.Stat();
            // Grow a kept file that is too short, never shorten one: a peer may map all of it.
            if (truncate && identity.Size < (long)length)
            {
                fd.Truncate((long)length);
                identity = identity with { Size = (long)length };
            }
            var address = fd.Map(length, 0, writable: true);
            var file = new SimMappedFile(path, address, length, identity, keepDescriptor ? fd : null);
            if (!keepDescriptor)
                fd.Dispose();
            return file;
        }
        catch
        {
            fd.Dispose();
            throw;
        }
    }

    /// <summary>Takes one more reference; false when the file has already been released.</summary>
    public bool TryAddReference() => _references.TryAdd();

    public void Release()
    {
        var left = _references.Release();
        if (left == 0)
        {
            FileDescriptor.Unmap(_address, Length);
            _descriptor?.Dispose();
        }
        else if (left < 0)
        {
            throw new InvalidOperationException($"{Path} released more often than referenced");
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ref ushort UInt16At(nuint offset)
    {
        Check(offset, sizeof(ushort));
        return ref *(ushort*)(_address + offset);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ref uint UInt32At(nuint offset)
    {
        Check(offset, sizeof(uint));
        return ref *(uint*)(_address + offset);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ref ulong UInt64At(nuint offset)
    {
        Check(offset, sizeof(ulong));
        return ref *(ulong*)(_address + offset);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Span<byte> Bytes(nuint offset, int length)
    {
        Check(offset, (nuint)length);
        return new Span<byte>(_address + offset, length);
    }

    /// <summary>
    /// Maps one page of this file again on its own (a granted ring page): needs the descriptor kept.
    /// </summary>
    public SimPageMapping MapPage(uint frame, bool writable)
    {
        if (_descriptor is null)
            throw new InvalidOperationException($"{Path} was opened without keeping its descriptor");
        var offset = (long)frame * SimRoot.PageSize;
        Check((nuint)offset, SimRoot.PageSize);
        return new SimPageMapping(_descriptor.Map(SimRoot.PageSize, offset, writable));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Check(nuint offset, nuint size)
    {
        if (offset > Length || size > Length - offset)
            ThrowOutside(offset, size);
    }

    private void ThrowOutside(nuint offset, nuint size) =>
        throw new ArgumentOutOfRangeException(nameof(offset), $"{size} bytes at {offset} lie outside {Path} ({Length} bytes)");
}
