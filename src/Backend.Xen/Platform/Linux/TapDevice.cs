using Backend.Xen.Platform.Native;
using Tmds.Linux;

namespace Backend.Xen.Platform.Linux;

/// <summary>
/// A vif's host network device: a TAP (IFF_TAP | IFF_NO_PI | IFF_VNET_HDR) whose frames carry a 10-byte
/// <see cref="VirtioNetHeader"/>, so checksum offload and GSO cross between the host stack and the
/// guest's netif ring without being undone. The daemon makes it persistent (it outlives a daemon
/// restart, as a vif's device does under Linux netback) and marks it as ours with an interface alias.
/// </summary>
/// <remarks>
/// <para>Header size: the 10-byte <c>virtio_net_hdr</c>, not the 12-byte mergeable-buffers layout:
/// <c>num_buffers</c> means nothing to a TAP, 10 is the kernel's default, and with it the IP header
/// after the 14-byte Ethernet header starts 8-byte aligned in our buffers. We still set it explicitly
/// (TUNSETVNETHDRSZ), because the size belongs to the device and a persistent one may have been left
/// with another.</para>
/// <para>I/O: the descriptor is non-blocking. Writes go straight to the kernel from the caller (a TAP
/// write never waits: the frame is handed to the stack or dropped). Reads are driven by a
/// <see cref="TapPoller"/>, one poll thread for every TAP.</para>
/// </remarks>
public sealed unsafe class TapDevice : IDisposable
{
    /// <summary>Largest frame a read returns: a 64 KiB GSO packet and its Ethernet header.</summary>
    public const int MaxFrameSize = 65536 + 14;

    /// <summary>Prefix of the interface alias that marks a TAP as the daemon's.</summary>
    public const string AliasPrefix = "xnb:";

    private readonly FileDescriptor _tun;

    private TapDevice(FileDescriptor tun, string name)
    {
        _tun = tun;
        Name = name;
    }

    /// <summary>The interface name the kernel gave (the one asked for).</summary>
    public string Name { get; }

    internal FileDescriptor Handle => _tun;

    /// <summary>The vif device name Xen's hotplug scripts use: <c>vif&lt;domid&gt;.&lt;handle&gt;</c>.</summary>
    public static string VifName(ushort domid, uint handle) => $"vif{domid}.{handle}";

    /// <summary>
    /// Creates the TAP <paramref name="name"/>, or attaches to it when it exists already (a persistent
    /// one left by an earlier run); the descriptor is non-blocking and the header size set.
    /// </summary>
    public static TapDevice Open(string name, string tunPath = TunIoctl.DevicePath)
    {
        ValidateName(name);
        var tun = FileDescriptor.Open(tunPath, LibC.O_RDWR | LibC.O_NONBLOCK, "the tun driver is not available (modprobe tun)");
        try
        {
            var request = IfReq.For(name, TunIoctl.IFF_TAP | TunIoctl.IFF_NO_PI | TunIoctl.IFF_VNET_HDR);
            if (tun.Ioctl(TunIoctl.TUNSETIFF, &request, out var errno) < 0)
                throw new LinuxDeviceException(tunPath, $"TUNSETIFF ({name})", errno,
                    errno == Errno.EINVAL ? $"{name} exists with other flags or is not a TAP" : null);
            var tap = new TapDevice(tun, request.GetName());
            var size = VirtioNetHeader.Size;
            tap.Control(TunIoctl.TUNSETVNETHDRSZ, &size, "TUNSETVNETHDRSZ");
            return tap;
        }
        catch
        {
            tun.Dispose();
            throw;
        }
    }

    /// <summary>Removes a persistent TAP by name (attach, clear persist, close); a missing one is not an error.</summary>
    public static void Delete(string name, string tunPath = TunIoctl.DevicePath)
    {
        ValidateName(name);
        if (!Directory.Exists(SysfsDirectory(name)))
            return;
        using var tap = Open(name, tunPath);
        tap.SetPersistent(false);
    }

    /// <summary>TUNSETPERSIST: a persistent TAP survives the close of its last descriptor.</summary>
    public void SetPersistent(bool persistent)
    {
        var value = persistent ? 1 : 0;
        // TUNSETPERSIST takes its argument by value, not through a pointer.
        Control(TunIoctl.TUNSETPERSIST, (void*)value, "TUNSETPERSIST");
    }

    /// <summary>TUNSETOFFLOAD with TunIoctl.TUN_F_* flags: which blank-checksum and GSO frames the stack may hand us.</summary>
    public void SetOffload(uint tunFlags) => Control(TunIoctl.TUNSETOFFLOAD, (void*)tunFlags, "TUNSETOFFLOAD");

    /// <summary>
    /// TUNSETCARRIER: the link as the host stack sees it, as Linux netback's <c>netif_carrier_on/off</c> on
    /// its vif. Off, the kernel sends nothing to the device (its qdisc drops) and a Linux bridge disables
    /// the port, so a guest that takes no frames costs the host nothing.
    /// </summary>
    public void SetCarrier(bool on)
    {
        var value = on ? 1 : 0;
        // Unlike TUNSETPERSIST, TUNSETCARRIER reads its int through the pointer.
        Control(TunIoctl.TUNSETCARRIER, &value, "TUNSETCARRIER");
    }

    /// <summary>The carrier as sysfs shows it, or null while the interface is down (the kernel then answers EINVAL).</summary>
    public bool? Carrier
    {
        get
        {
            try
            {
                return File.ReadAllText(Path.Combine(SysfsDirectory(Name), "carrier")).Trim() == "1";
            }
            catch (IOException)
            {
                return null;
            }
        }
    }

    /// <summary>Marks the interface as ours: its alias becomes <see cref="AliasPrefix"/> + <paramref name="what"/>.</summary>
    public void SetAlias(string what) => File.WriteAllText(Path.Combine(SysfsDirectory(Name), "ifalias"), AliasPrefix + what + "\n");

    /// <summary>The interface alias, or null when it has none.</summary>
    public string? ReadAlias()
    {
        var alias = File.ReadAllText(Path.Combine(SysfsDirectory(Name), "ifalias")).TrimEnd('\n');
        return alias.Length == 0 ? null : alias;
    }

    /// <summary>Whether a TAP of this name carries our alias (left by us, so ours to reuse or delete).</summary>
    public static bool IsOurs(string name)
    {
        ValidateName(name);
        var path = Path.Combine(SysfsDirectory(name), "ifalias");
        return File.Exists(path) && File.ReadAllText(path).StartsWith(AliasPrefix, StringComparison.Ordinal);
    }

    public bool IsUp
    {
        get
        {
            using var socket = ControlSocket();
            var request = IfReq.For(Name);
            if (socket.Ioctl(TunIoctl.SIOCGIFFLAGS, &request, out var errno) < 0)
                throw new LinuxDeviceException(Name, "SIOCGIFFLAGS", errno);
            return (request.Flags & TunIoctl.IFF_UP) != 0;
        }
    }

    /// <summary>Brings the interface up or down (SIOCSIFFLAGS, as <c>ip link set up</c> does).</summary>
    public void SetUp(bool up)
    {
        using var socket = ControlSocket();
        var request = IfReq.For(Name);
        if (socket.Ioctl(TunIoctl.SIOCGIFFLAGS, &request, out var errno) < 0)
            throw new LinuxDeviceException(Name, "SIOCGIFFLAGS", errno);
        request.Flags = up ? (short)(request.Flags | TunIoctl.IFF_UP) : (short)(request.Flags & ~TunIoctl.IFF_UP);
        if (socket.Ioctl(TunIoctl.SIOCSIFFLAGS, &request, out errno) < 0)
            throw new LinuxDeviceException(Name, "SIOCSIFFLAGS", errno);
    }

    /// <summary>
    /// Makes the TAP a port of the Linux bridge <paramref name="bridge"/> (SIOCBRADDIF, as <c>brctl addif</c>
    /// and <c>ip link set dev TAP master BRIDGE</c> do). Already being its port is no error.
    /// </summary>
    public void AttachToBridge(string bridge)
    {
        ValidateName(bridge);
        using var socket = ControlSocket();
        var request = IfReq.For(Name);
        if (socket.Ioctl(TunIoctl.SIOCGIFINDEX, &request, out var errno) < 0)
            throw new LinuxDeviceException(Name, "SIOCGIFINDEX", errno);
        var index = request.IfIndex;
        request = IfReq.For(bridge);
        request.IfIndex = index;
        if (socket.Ioctl(TunIoctl.SIOCBRADDIF, &request, out errno) < 0 && !(errno == Errno.EBUSY && Master == bridge))
            throw new LinuxDeviceException(bridge, $"SIOCBRADDIF ({Name})", errno,
                errno switch
                {
                    Errno.ENODEV or Errno.EINVAL or Errno.EOPNOTSUPP => $"{bridge} is not a Linux bridge",
                    Errno.EBUSY => $"{Name} is a port of {Master ?? "another device"} already",
                    _ => null,
                });
    }

    /// <summary>The Linux bridge the TAP is a port of, or null.</summary>
    public string? Master
    {
        get
        {
            // sysfs's "master" is a symlink to the bridge's directory, there only while the TAP is a port.
            var target = new FileInfo(Path.Combine(SysfsDirectory(Name), "master")).LinkTarget;
            return target is null ? null : Path.GetFileName(target);
        }
    }

    /// <summary>The interface's MTU, as <c>ip link</c> shows it.</summary>
    public int Mtu => int.Parse(File.ReadAllText(Path.Combine(SysfsDirectory(Name), "mtu")), System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>
    /// Hands one frame to the host stack. Returns 0, or the errno when the kernel refused the frame (EIO:
    /// the interface is down; EINVAL: a header that does not fit the frame; EAGAIN): the frame is dropped
    /// and the caller counts it. Frames come from guests, so a refusal is never an exception.
    /// </summary>
    public int Write(in VirtioNetHeader header, ReadOnlySpan<byte> frame)
    {
        var added = false;
        try
        {
            _tun.DangerousAddRef(ref added);
            fixed (VirtioNetHeader* h = &header)
            fixed (byte* f = frame)
            {
                var vectors = stackalloc IoVec[2];
                vectors[0] = new IoVec { Base = h, Length = VirtioNetHeader.Size };
                vectors[1] = new IoVec { Base = f, Length = (nuint)frame.Length };
                while (true)
                {
                    if (NativeCalls.WriteV(_tun.Fd, vectors, 2) >= 0)
                        return 0;
                    var errno = Errno.Last;
                    if (errno != Errno.EINTR)
                        return errno;
                }
            }
        }
        finally
        {
            if (added)
                _tun.DangerousRelease();
        }
    }

    /// <summary>
    /// Reads one frame the host stack sent to this interface, without waiting. False when none is
    /// queued. A frame longer than <paramref name="frame"/> is truncated by the kernel, so pass
    /// <see cref="MaxFrameSize"/> bytes.
    /// </summary>
    public bool TryRead(Span<byte> frame, out VirtioNetHeader header, out int length)
    {
        header = default;
        length = 0;
        var added = false;
        try
        {
            _tun.DangerousAddRef(ref added);
            fixed (VirtioNetHeader* h = &header)
            fixed (byte* f = frame)
            {
                var vectors = stackalloc IoVec[2];
                vectors[0] = new IoVec { Base = h, Length = VirtioNetHeader.Size };
                vectors[1] = new IoVec { Base = f, Length = (nuint)frame.Length };
                while (true)
                {
                    var n = NativeCalls.ReadV(_tun.Fd, vectors, 2);
                    if (n >= VirtioNetHeader.Size)
                    {
                        length = (int)n - VirtioNetHeader.Size;
                        return true;
                    }
                    if (n >= 0)
                        throw new IOException($"read on TAP {Name} returned {n} bytes, less than its {VirtioNetHeader.Size}-byte header");
                    var errno = Errno.Last;
                    if (errno == Errno.EAGAIN)
                        return false;
                    if (errno != Errno.EINTR)
                        throw new LinuxDeviceException(Name, "read", errno);
                }
            }
        }
        finally
        {
            if (added)
                _tun.DangerousRelease();
        }
    }

    /// <summary>Deletes the TAP: clears persist and closes it, so the interface goes away.</summary>
    public void Delete()
    {
        SetPersistent(false);
        Dispose();
    }

    /// <summary>Closes our descriptor; a persistent TAP stays.</summary>
    public void Dispose() => _tun.Dispose();

    internal static string SysfsDirectory(string name) => Path.Combine("/sys/class/net", name);

    private static void ValidateName(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (name.Length >= TunIoctl.IFNAMSIZ)
            throw new ArgumentException($"interface name '{name}' is longer than {TunIoctl.IFNAMSIZ - 1} characters", nameof(name));
        foreach (var c in name)
        {
            if (c <= ' ' || c >= 0x7f || c is '/' or ':')
                throw new ArgumentException($"interface name '{name}' has a character Linux refuses ('{c}')", nameof(name));
        }
        if (name is "." or "..")
            throw new ArgumentException($"'{name}' is not an interface name", nameof(name));
    }

    private void Control(nuint request, void* argument, string operation)
    {
        if (_tun.Ioctl(request, argument, out var errno) < 0)
            throw new LinuxDeviceException(Name, operation, errno);
    }

    private static FileDescriptor ControlSocket() =>
        FileDescriptor.Socket(LibC.AF_INET, LibC.SOCK_DGRAM, "interface control socket (AF_INET, SOCK_DGRAM)");
}
