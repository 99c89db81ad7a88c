using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using Backend.Xen.Grants;
using Backend.Xen.Platform.Linux;
using Backend.Xen.Platform.Native;
using Backend.Xen.Tests.Support;
using Tmds.Linux;

namespace Backend.Xen.Tests.Linux;

/// <summary>
/// Every ioctl number, flag, struct size and field offset the Linux platform uses, compared one by one
/// with what gcc computes from the real headers (there is no Xen here to catch a wrong one).
/// </summary>
public class LinuxAbiTests
{
    private static readonly string[] Headers =
    [
        "/usr/include/xen/gntdev.h",
        "/usr/include/xen/evtchn.h",
        "/usr/include/xen/grant_table.h",
        "/usr/include/linux/if_tun.h",
        "/usr/include/linux/virtio_net.h",
    ];

    private static long Off<T>(string field) => Marshal.OffsetOf<T>(field).ToInt64();

    /// <summary>(C expression, our value); the C expression is also the name in the failure message.</summary>
    private static readonly (string C, long Ours)[] Checks =
    [
        ("IOCTL_GNTDEV_MAP_GRANT_REF", (long)GntdevIoctl.MapGrantRef),
        ("IOCTL_GNTDEV_UNMAP_GRANT_REF", (long)GntdevIoctl.UnmapGrantRef),
        ("IOCTL_GNTDEV_GRANT_COPY", (long)GntdevIoctl.GrantCopy),

        ("sizeof(struct ioctl_gntdev_grant_ref)", Unsafe.SizeOf<IoctlGntdevGrantRef>()),
        ("offsetof(struct ioctl_gntdev_grant_ref, domid)", Off<IoctlGntdevGrantRef>(nameof(IoctlGntdevGrantRef.DomId))),
        ("offsetof(struct ioctl_gntdev_grant_ref, ref)", Off<IoctlGntdevGrantRef>(nameof(IoctlGntdevGrantRef.Ref))),

        ("sizeof(struct ioctl_gntdev_map_grant_ref)", Unsafe.SizeOf<IoctlGntdevMapGrantRef>()),
        ("offsetof(struct ioctl_gntdev_map_grant_ref, count)", Off<IoctlGntdevMapGrantRef>(nameof(IoctlGntdevMapGrantRef.Count))),
        ("offsetof(struct ioctl_gntdev_map_grant_ref, pad)", Off<IoctlGntdevMapGrantRef>(nameof(IoctlGntdevMapGrantRef.Pad))),
        ("offsetof(struct ioctl_gntdev_map_grant_ref, index)", Off<IoctlGntdevMapGrantRef>(nameof(IoctlGntdevMapGrantRef.Index))),
        ("offsetof(struct ioctl_gntdev_map_grant_ref, refs)", Off<IoctlGntdevMapGrantRef>(nameof(IoctlGntdevMapGrantRef.Ref0))),

        ("sizeof(struct ioctl_gntdev_unmap_grant_ref)", Unsafe.SizeOf<IoctlGntdevUnmapGrantRef>()),
        ("offsetof(struct ioctl_gntdev_unmap_grant_ref, index)", Off<IoctlGntdevUnmapGrantRef>(nameof(IoctlGntdevUnmapGrantRef.Index))),
        ("offsetof(struct ioctl_gntdev_unmap_grant_ref, count)", Off<IoctlGntdevUnmapGrantRef>(nameof(IoctlGntdevUnmapGrantRef.Count))),
        ("offsetof(struct ioctl_gntdev_unmap_grant_ref, pad)", Off<IoctlGntdevUnmapGrantRef>(nameof(IoctlGntdevUnmapGrantRef.Pad))),

        ("sizeof(struct ioctl_gntdev_grant_copy)", Unsafe.SizeOf<IoctlGntdevGrantCopy>()),
        ("offsetof(struct ioctl_gntdev_grant_copy, count)", Off<IoctlGntdevGrantCopy>(nameof(IoctlGntdevGrantCopy.Count))),
        ("offsetof(struct ioctl_gntdev_grant_copy, segments)", Off<IoctlGntdevGrantCopy>(nameof(IoctlGntdevGrantCopy.Segments))),

        ("sizeof(struct gntdev_grant_copy_segment)", Unsafe.SizeOf<GrantCopySegment>()),
        ("offsetof(struct gntdev_grant_copy_segment, source)", Off<GrantCopySegment>(nameof(GrantCopySegment.Source))),
        ("offsetof(struct gntdev_grant_copy_segment, dest)", Off<GrantCopySegment>(nameof(GrantCopySegment.Dest))),
        ("offsetof(struct gntdev_grant_copy_segment, len)", Off<GrantCopySegment>(nameof(GrantCopySegment.Length))),
        ("offsetof(struct gntdev_grant_copy_segment, flags)", Off<GrantCopySegment>(nameof(GrantCopySegment.Flags))),
        ("offsetof(struct gntdev_grant_copy_segment, status)", Off<GrantCopySegment>(nameof(GrantCopySegment.Status))),
        ("sizeof(((struct gntdev_grant_copy_segment*)0)->source)", Unsafe.SizeOf<GrantCopyPointer>()),
        ("offsetof(struct gntdev_grant_copy_segment, source.virt)", Off<GrantCopyPointer>(nameof(GrantCopyPointer.Virt))),
        ("offsetof(struct gntdev_grant_copy_segment, source.foreign.ref)", Off<GrantCopyPointer>(nameof(GrantCopyPointer.Ref))),
        ("offsetof(struct gntdev_grant_copy_segment, source.foreign.offset)", Off<GrantCopyPointer>(nameof(GrantCopyPointer.Offset))),
        ("offsetof(struct gntdev_grant_copy_segment, source.foreign.domid)", Off<GrantCopyPointer>(nameof(GrantCopyPointer.DomId))),
        ("offsetof(struct gntdev_grant_copy_segment, dest.foreign.ref) - offsetof(struct gntdev_grant_copy_segment, dest)", Off<GrantCopyPointer>(nameof(GrantCopyPointer.Ref))),
        ("offsetof(struct gntdev_grant_copy_segment, dest.foreign.offset) - offsetof(struct gntdev_grant_copy_segment, dest)", Off<GrantCopyPointer>(nameof(GrantCopyPointer.Offset))),
        ("offsetof(struct gntdev_grant_copy_segment, dest.foreign.domid) - offsetof(struct gntdev_grant_copy_segment, dest)", Off<GrantCopyPointer>(nameof(GrantCopyPointer.DomId))),
        ("GNTCOPY_source_gref", GrantCopySegment.SourceGref),
        ("GNTCOPY_dest_gref", GrantCopySegment.DestGref),
        ("GNTST_general_error", GrantStatus.GeneralError),

        ("IOCTL_EVTCHN_BIND_INTERDOMAIN", (long)EvtchnIoctl.BindInterdomain),
        ("IOCTL_EVTCHN_UNBIND", (long)EvtchnIoctl.Unbind),
        ("IOCTL_EVTCHN_NOTIFY", (long)EvtchnIoctl.Notify),
        ("sizeof(struct ioctl_evtchn_bind_interdomain)", Unsafe.SizeOf<IoctlEvtchnBindInterdomain>()),
        ("offsetof(struct ioctl_evtchn_bind_interdomain, remote_domain)", Off<IoctlEvtchnBindInterdomain>(nameof(IoctlEvtchnBindInterdomain.RemoteDomain))),
        ("offsetof(struct ioctl_evtchn_bind_interdomain, remote_port)", Off<IoctlEvtchnBindInterdomain>(nameof(IoctlEvtchnBindInterdomain.RemotePort))),
        ("sizeof(struct ioctl_evtchn_unbind)", sizeof(uint)),
        ("sizeof(struct ioctl_evtchn_notify)", sizeof(uint)),
        ("sizeof(evtchn_port_t)", sizeof(uint)),

        ("TUNSETIFF", (long)TunIoctl.TUNSETIFF),
        ("TUNSETPERSIST", (long)TunIoctl.TUNSETPERSIST),
        ("TUNSETOFFLOAD", (long)TunIoctl.TUNSETOFFLOAD),
        ("TUNSETVNETHDRSZ", (long)TunIoctl.TUNSETVNETHDRSZ),
        ("TUNSETCARRIER", (long)TunIoctl.TUNSETCARRIER),
        ("SIOCGIFFLAGS", (long)TunIoctl.SIOCGIFFLAGS),
        ("SIOCSIFFLAGS", (long)TunIoctl.SIOCSIFFLAGS),
        ("SIOCGIFINDEX", (long)TunIoctl.SIOCGIFINDEX),
        ("SIOCBRADDIF", (long)TunIoctl.SIOCBRADDIF),
        ("IFF_TAP", TunIoctl.IFF_TAP),
        ("IFF_NO_PI", TunIoctl.IFF_NO_PI),
        ("IFF_VNET_HDR", TunIoctl.IFF_VNET_HDR),
        ("IFF_UP", TunIoctl.IFF_UP),
        ("IFNAMSIZ", TunIoctl.IFNAMSIZ),
        ("TUN_F_CSUM", TunIoctl.TUN_F_CSUM),
        ("TUN_F_TSO4", TunIoctl.TUN_F_TSO4),
        ("TUN_F_TSO6", TunIoctl.TUN_F_TSO6),
        ("sizeof(struct ifreq)", Unsafe.SizeOf<IfReq>()),
        ("offsetof(struct ifreq, ifr_name)", Off<IfReq>(nameof(IfReq.Name))),
        ("offsetof(struct ifreq, ifr_flags)", Off<IfReq>(nameof(IfReq.Flags))),
        ("offsetof(struct ifreq, ifr_ifindex)", Off<IfReq>(nameof(IfReq.IfIndex))),

        ("sizeof(struct virtio_net_hdr)", Unsafe.SizeOf<VirtioNetHeader>()),
        ("sizeof(struct virtio_net_hdr) - 0", VirtioNetHeader.Size),
        ("offsetof(struct virtio_net_hdr, flags)", Off<VirtioNetHeader>(nameof(VirtioNetHeader.Flags))),
        ("offsetof(struct virtio_net_hdr, gso_type)", Off<VirtioNetHeader>(nameof(VirtioNetHeader.GsoType))),
        ("offsetof(struct virtio_net_hdr, hdr_len)", Off<VirtioNetHeader>(nameof(VirtioNetHeader.HdrLen))),
        ("offsetof(struct virtio_net_hdr, gso_size)", Off<VirtioNetHeader>(nameof(VirtioNetHeader.GsoSize))),
        ("offsetof(struct virtio_net_hdr, csum_start)", Off<VirtioNetHeader>(nameof(VirtioNetHeader.CsumStart))),
        ("offsetof(struct virtio_net_hdr, csum_offset)", Off<VirtioNetHeader>(nameof(VirtioNetHeader.CsumOffset))),
        ("VIRTIO_NET_HDR_F_NEEDS_CSUM", VirtioNetHeader.FlagNeedsCsum),
        ("VIRTIO_NET_HDR_F_DATA_VALID", VirtioNetHeader.FlagDataValid),
        ("VIRTIO_NET_HDR_GSO_NONE", VirtioNetHeader.GsoNone),
        ("VIRTIO_NET_HDR_GSO_TCPV4", VirtioNetHeader.GsoTcpV4),
        ("VIRTIO_NET_HDR_GSO_TCPV6", VirtioNetHeader.GsoTcpV6),
        ("VIRTIO_NET_HDR_GSO_ECN", VirtioNetHeader.GsoEcn),

        ("sizeof(struct pollfd)", Unsafe.SizeOf<PollFd>()),
        ("offsetof(struct pollfd, events)", Off<PollFd>(nameof(PollFd.Events))),
        ("offsetof(struct pollfd, revents)", Off<PollFd>(nameof(PollFd.Revents))),
        ("POLLIN", LibC.POLLIN),
        ("POLLNVAL", LibC.POLLNVAL),
        ("sizeof(struct iovec)", Unsafe.SizeOf<IoVec>()),
        ("offsetof(struct iovec, iov_len)", Off<IoVec>(nameof(IoVec.Length))),
        ("O_RDWR", LibC.O_RDWR),
        ("O_NONBLOCK", LibC.O_NONBLOCK),
        ("O_CLOEXEC", LibC.O_CLOEXEC),
        ("PROT_READ", LibC.PROT_READ),
        ("PROT_WRITE", LibC.PROT_WRITE),
        ("MAP_SHARED", LibC.MAP_SHARED),
        ("EFD_NONBLOCK", LibC.EFD_NONBLOCK),
        ("EFD_CLOEXEC", LibC.EFD_CLOEXEC),
        ("SOCK_CLOEXEC", LibC.SOCK_CLOEXEC),
        ("EAGAIN", Errno.EAGAIN),
        ("EINVAL", Errno.EINVAL),
        ("EFBIG", Errno.EFBIG),
        ("ENOMEM", Errno.ENOMEM),
        ("EPERM", Errno.EPERM),
        ("ENOENT", Errno.ENOENT),
        ("EINTR", Errno.EINTR),
        ("EACCES", Errno.EACCES),
        ("EBUSY", Errno.EBUSY),
        ("ENODEV", Errno.ENODEV),
        ("EOPNOTSUPP", Errno.EOPNOTSUPP),
        ("AF_INET", LibC.AF_INET),
        ("AF_UNIX", LibC.AF_UNIX),
        ("SOCK_DGRAM", LibC.SOCK_DGRAM),
        ("SOCK_NONBLOCK", LibC.SOCK_NONBLOCK),
        ("O_CREAT", LibC.O_CREAT),
        ("O_EXCL", LibC.O_EXCL),
        ("MSG_DONTWAIT", LibC.MSG_DONTWAIT),
        ("MSG_NOSIGNAL", LibC.MSG_NOSIGNAL),
    ];

    [SkippableFact]
    public void Every_ioctl_number_constant_and_struct_layout_matches_the_kernel_and_Xen_headers()
    {
        var source = new StringBuilder("""
            #include <stdio.h>
            #include <stddef.h>
            #include <stdint.h>
            #include <errno.h>
            #include <fcntl.h>
            #include <poll.h>
            #include <sys/eventfd.h>
            #include <sys/ioctl.h>
            #include <sys/mman.h>
            #include <sys/socket.h>
            #include <sys/uio.h>
            #include <net/if.h>
            #include <xen/xen.h>
            #include <xen/grant_table.h>
            #include <xen/gntdev.h>
            #include <xen/event_channel.h>
            #include <xen/evtchn.h>
            #include <linux/if_tun.h>
            #include <linux/sockios.h>
            #include <linux/virtio_net.h>
            int main(void) {

            """);
        for (var i = 0; i < Checks.Length; i++)
            source.Append($"    printf(\"c{i} %lld\\n\", (long long)({Checks[i].C}));\n");
        source.Append("    return 0;\n}\n");

        var values = CProbe.ParseValues(CProbe.CompileAndRun(source.ToString(), Headers));

        var wrong = new List<string>();
        for (var i = 0; i < Checks.Length; i++)
        {
            Assert.True(values.TryGetValue($"c{i}", out var c), $"the probe printed nothing for {Checks[i].C}");
            if (c != Checks[i].Ours)
                wrong.Add($"{Checks[i].C}: header {c} (0x{c:x}), ours {Checks[i].Ours} (0x{Checks[i].Ours:x})");
        }
        Assert.True(wrong.Count == 0, "ABI mismatches:\n" + string.Join("\n", wrong));
    }
}
