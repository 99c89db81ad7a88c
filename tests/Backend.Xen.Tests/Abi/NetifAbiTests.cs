using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using Backend.Xen.Abi;
using Backend.Xen.Grants;
using Backend.Xen.Netback;
using Backend.Xen.Rings;
using Backend.Xen.Tests.Support;

namespace Backend.Xen.Tests.Abi;

/// <summary>
/// Proves our structs and constants against Xen's and Linux's own headers: a C probe prints every size,
/// offset and constant, and each is compared with the C# side.
/// </summary>
public sealed class NetifAbiTests
{
    private static long Off<T>(string field) => Marshal.OffsetOf<T>(field).ToInt64();

    /// <summary>Name, C expression, C# value.</summary>
    private static IEnumerable<(string Name, string C, long CSharp)> Checks()
    {
        // struct netif_tx_request
        yield return ("sizeof(netif_tx_request)", "sizeof(struct netif_tx_request)", Unsafe.SizeOf<NetifTxRequest>());
        yield return ("netif_tx_request.gref", "offsetof(struct netif_tx_request, gref)", Off<NetifTxRequest>(nameof(NetifTxRequest.Gref)));
        yield return ("netif_tx_request.offset", "offsetof(struct netif_tx_request, offset)", Off<NetifTxRequest>(nameof(NetifTxRequest.Offset)));
        yield return ("netif_tx_request.flags", "offsetof(struct netif_tx_request, flags)", Off<NetifTxRequest>(nameof(NetifTxRequest.Flags)));
        yield return ("netif_tx_request.id", "offsetof(struct netif_tx_request, id)", Off<NetifTxRequest>(nameof(NetifTxRequest.Id)));
        yield return ("netif_tx_request.size", "offsetof(struct netif_tx_request, size)", Off<NetifTxRequest>(nameof(NetifTxRequest.Size)));

        // struct netif_tx_response
        yield return ("sizeof(netif_tx_response)", "sizeof(struct netif_tx_response)", Unsafe.SizeOf<NetifTxResponse>());
        yield return ("netif_tx_response.id", "offsetof(struct netif_tx_response, id)", Off<NetifTxResponse>(nameof(NetifTxResponse.Id)));
        yield return ("netif_tx_response.status", "offsetof(struct netif_tx_response, status)", Off<NetifTxResponse>(nameof(NetifTxResponse.Status)));

        // struct netif_rx_request
        yield return ("sizeof(netif_rx_request)", "sizeof(struct netif_rx_request)", Unsafe.SizeOf<NetifRxRequest>());
        yield return ("netif_rx_request.id", "offsetof(struct netif_rx_request, id)", Off<NetifRxRequest>(nameof(NetifRxRequest.Id)));
        yield return ("netif_rx_request.pad", "offsetof(struct netif_rx_request, pad)", Off<NetifRxRequest>(nameof(NetifRxRequest.Pad)));
        yield return ("netif_rx_request.gref", "offsetof(struct netif_rx_request, gref)", Off<NetifRxRequest>(nameof(NetifRxRequest.Gref)));

        // struct netif_rx_response
        yield return ("sizeof(netif_rx_response)", "sizeof(struct netif_rx_response)", Unsafe.SizeOf<NetifRxResponse>());
        yield return ("netif_rx_response.id", "offsetof(struct netif_rx_response, id)", Off<NetifRxResponse>(nameof(NetifRxResponse.Id)));
        yield return ("netif_rx_response.offset", "offsetof(struct netif_rx_response, offset)", Off<NetifRxResponse>(nameof(NetifRxResponse.Offset)));
        yield return ("netif_rx_response.flags", "offsetof(struct netif_rx_response, flags)", Off<NetifRxResponse>(nameof(NetifRxResponse.Flags)));
        yield return ("netif_rx_response.status", "offsetof(struct netif_rx_response, status)", Off<NetifRxResponse>(nameof(NetifRxResponse.Status)));

        // struct netif_extra_info
        yield return ("sizeof(netif_extra_info)", "sizeof(struct netif_extra_info)", Unsafe.SizeOf<NetifExtraInfo>());
        yield return ("netif_extra_info.type", "offsetof(struct netif_extra_info, type)", Off<NetifExtraInfo>(nameof(NetifExtraInfo.Type)));
        yield return ("netif_extra_info.flags", "offsetof(struct netif_extra_info, flags)", Off<NetifExtraInfo>(nameof(NetifExtraInfo.Flags)));
        yield return ("netif_extra_info.u.gso.size", "offsetof(struct netif_extra_info, u.gso.size)", Off<NetifExtraInfo>(nameof(NetifExtraInfo.GsoSize)));
        yield return ("netif_extra_info.u.gso.type", "offsetof(struct netif_extra_info, u.gso.type)", Off<NetifExtraInfo>(nameof(NetifExtraInfo.GsoType)));
        yield return ("netif_extra_info.u.gso.pad", "offsetof(struct netif_extra_info, u.gso.pad)", Off<NetifExtraInfo>(nameof(NetifExtraInfo.GsoPad)));
        yield return ("netif_extra_info.u.gso.features", "offsetof(struct netif_extra_info, u.gso.features)", Off<NetifExtraInfo>(nameof(NetifExtraInfo.GsoFeatures)));
        yield return ("netif_extra_info.u.mcast.addr", "offsetof(struct netif_extra_info, u.mcast.addr)", TxPacket.MulticastAddressOffset);
        yield return ("sizeof(netif_extra_info.u.mcast.addr)", "sizeof(((struct netif_extra_info *)0)->u.mcast.addr)", TxPacket.MulticastAddressLength);
        yield return ("netif_extra_info.u.hash.type", "offsetof(struct netif_extra_info, u.hash.type)", Off<NetifExtraInfo>(nameof(NetifExtraInfo.HashType)));
        yield return ("netif_extra_info.u.hash.algorithm", "offsetof(struct netif_extra_info, u.hash.algorithm)", Off<NetifExtraInfo>(nameof(NetifExtraInfo.HashAlgorithm)));
        yield return ("netif_extra_info.u.hash.value", "offsetof(struct netif_extra_info, u.hash.value)", Off<NetifExtraInfo>(nameof(NetifExtraInfo.HashValue)));

        // struct xen_netif_ctrl_request / response
        yield return ("sizeof(xen_netif_ctrl_request)", "sizeof(struct xen_netif_ctrl_request)", Unsafe.SizeOf<NetifCtrlRequest>());
        yield return ("xen_netif_ctrl_request.id", "offsetof(struct xen_netif_ctrl_request, id)", Off<NetifCtrlRequest>(nameof(NetifCtrlRequest.Id)));
        yield return ("xen_netif_ctrl_request.type", "offsetof(struct xen_netif_ctrl_request, type)", Off<NetifCtrlRequest>(nameof(NetifCtrlRequest.Type)));
        yield return ("xen_netif_ctrl_request.data[0]", "offsetof(struct xen_netif_ctrl_request, data[0])", Off<NetifCtrlRequest>(nameof(NetifCtrlRequest.Data0)));
        yield return ("xen_netif_ctrl_request.data[1]", "offsetof(struct xen_netif_ctrl_request, data[1])", Off<NetifCtrlRequest>(nameof(NetifCtrlRequest.Data1)));
        yield return ("xen_netif_ctrl_request.data[2]", "offsetof(struct xen_netif_ctrl_request, data[2])", Off<NetifCtrlRequest>(nameof(NetifCtrlRequest.Data2)));
        yield return ("sizeof(xen_netif_ctrl_response)", "sizeof(struct xen_netif_ctrl_response)", Unsafe.SizeOf<NetifCtrlResponse>());
        yield return ("xen_netif_ctrl_response.id", "offsetof(struct xen_netif_ctrl_response, id)", Off<NetifCtrlResponse>(nameof(NetifCtrlResponse.Id)));
        yield return ("xen_netif_ctrl_response.type", "offsetof(struct xen_netif_ctrl_response, type)", Off<NetifCtrlResponse>(nameof(NetifCtrlResponse.Type)));
        yield return ("xen_netif_ctrl_response.status", "offsetof(struct xen_netif_ctrl_response, status)", Off<NetifCtrlResponse>(nameof(NetifCtrlResponse.Status)));
        yield return ("xen_netif_ctrl_response.data", "offsetof(struct xen_netif_ctrl_response, data)", Off<NetifCtrlResponse>(nameof(NetifCtrlResponse.Data)));

        // The shared ring header, for each of the three rings.
        foreach (var ring in new[] { "netif_tx", "netif_rx", "xen_netif_ctrl" })
        {
            yield return ($"{ring}_sring.req_prod", $"offsetof(struct {ring}_sring, req_prod)", Off<SharedRingHeader>(nameof(SharedRingHeader.ReqProd)));
            yield return ($"{ring}_sring.req_event", $"offsetof(struct {ring}_sring, req_event)", Off<SharedRingHeader>(nameof(SharedRingHeader.ReqEvent)));
            yield return ($"{ring}_sring.rsp_prod", $"offsetof(struct {ring}_sring, rsp_prod)", Off<SharedRingHeader>(nameof(SharedRingHeader.RspProd)));
            yield return ($"{ring}_sring.rsp_event", $"offsetof(struct {ring}_sring, rsp_event)", Off<SharedRingHeader>(nameof(SharedRingHeader.RspEvent)));
            yield return ($"{ring}_sring.ring", $"offsetof(struct {ring}_sring, ring)", SharedRingHeader.EntriesOffset);
        }
        yield return ("sizeof(union netif_tx_sring_entry)", "sizeof(union netif_tx_sring_entry)", RingGeometry<NetifTxRequest, NetifTxResponse>.EntrySize);
        yield return ("sizeof(union netif_rx_sring_entry)", "sizeof(union netif_rx_sring_entry)", RingGeometry<NetifRxRequest, NetifRxResponse>.EntrySize);
        yield return ("sizeof(union xen_netif_ctrl_sring_entry)", "sizeof(union xen_netif_ctrl_sring_entry)", RingGeometry<NetifCtrlRequest, NetifCtrlResponse>.EntrySize);

        // Ring sizes: the constants and what the ring classes compute.
        yield return ("__CONST_RING_SIZE(netif_tx) NetifConstants", "__CONST_RING_SIZE(netif_tx, 4096)", NetifConstants.TxRingSize);
        yield return ("__CONST_RING_SIZE(netif_rx) NetifConstants", "__CONST_RING_SIZE(netif_rx, 4096)", NetifConstants.RxRingSize);
        yield return ("__CONST_RING_SIZE(xen_netif_ctrl) NetifConstants", "__CONST_RING_SIZE(xen_netif_ctrl, 4096)", NetifConstants.CtrlRingSize);
        yield return ("__CONST_RING_SIZE(netif_tx) BackRing", "__CONST_RING_SIZE(netif_tx, 4096)", RingGeometry<NetifTxRequest, NetifTxResponse>.Size);
        yield return ("__CONST_RING_SIZE(netif_rx) BackRing", "__CONST_RING_SIZE(netif_rx, 4096)", RingGeometry<NetifRxRequest, NetifRxResponse>.Size);
        yield return ("__CONST_RING_SIZE(xen_netif_ctrl) BackRing", "__CONST_RING_SIZE(xen_netif_ctrl, 4096)", RingGeometry<NetifCtrlRequest, NetifCtrlResponse>.Size);

        // Constants.
        yield return ("NETTXF_csum_blank", "NETTXF_csum_blank", (long)NetTxFlags.CsumBlank);
        yield return ("NETTXF_data_validated", "NETTXF_data_validated", (long)NetTxFlags.DataValidated);
        yield return ("NETTXF_more_data", "NETTXF_more_data", (long)NetTxFlags.MoreData);
        yield return ("NETTXF_extra_info", "NETTXF_extra_info", (long)NetTxFlags.ExtraInfo);
        yield return ("NETRXF_data_validated", "NETRXF_data_validated", (long)NetRxFlags.DataValidated);
        yield return ("NETRXF_csum_blank", "NETRXF_csum_blank", (long)NetRxFlags.CsumBlank);
        yield return ("NETRXF_more_data", "NETRXF_more_data", (long)NetRxFlags.MoreData);
        yield return ("NETRXF_extra_info", "NETRXF_extra_info", (long)NetRxFlags.ExtraInfo);
        yield return ("NETRXF_gso_prefix", "NETRXF_gso_prefix", (long)NetRxFlags.GsoPrefix);
        yield return ("NETIF_RSP_DROPPED", "NETIF_RSP_DROPPED", NetifResponseStatus.Dropped);
        yield return ("NETIF_RSP_ERROR", "NETIF_RSP_ERROR", NetifResponseStatus.Error);
        yield return ("NETIF_RSP_OKAY", "NETIF_RSP_OKAY", NetifResponseStatus.Okay);
        yield return ("NETIF_RSP_NULL", "NETIF_RSP_NULL", NetifResponseStatus.Null);
        yield return ("XEN_NETIF_EXTRA_TYPE_NONE", "XEN_NETIF_EXTRA_TYPE_NONE", NetifExtraType.None);
        yield return ("XEN_NETIF_EXTRA_TYPE_GSO", "XEN_NETIF_EXTRA_TYPE_GSO", NetifExtraType.Gso);
        yield return ("XEN_NETIF_EXTRA_TYPE_MCAST_ADD", "XEN_NETIF_EXTRA_TYPE_MCAST_ADD", NetifExtraType.MulticastAdd);
        yield return ("XEN_NETIF_EXTRA_TYPE_MCAST_DEL", "XEN_NETIF_EXTRA_TYPE_MCAST_DEL", NetifExtraType.MulticastDel);
        yield return ("XEN_NETIF_EXTRA_TYPE_HASH", "XEN_NETIF_EXTRA_TYPE_HASH", NetifExtraType.Hash);
        yield return ("XEN_NETIF_EXTRA_TYPE_XDP", "XEN_NETIF_EXTRA_TYPE_XDP", NetifExtraType.Xdp);
        yield return ("XEN_NETIF_EXTRA_TYPE_MAX", "XEN_NETIF_EXTRA_TYPE_MAX", NetifExtraType.Max);
        yield return ("XEN_NETIF_MAX_XDP_HEADROOM", "XEN_NETIF_MAX_XDP_HEADROOM", NetifConstants.MaxXdpHeadroom);
        yield return ("sizeof(netif_extra_info with u.xdp)", "sizeof(XNB_EXTRA_INFO)", Unsafe.SizeOf<NetifExtraInfo>());
        yield return ("netif_extra_info.u.xdp.headroom", "offsetof(XNB_EXTRA_INFO, u.xdp.headroom)", Off<NetifExtraInfo>(nameof(NetifExtraInfo.XdpHeadroom)));
        yield return ("netif_extra_info.u.xdp.pad[0]", "offsetof(XNB_EXTRA_INFO, u.xdp.pad[0])", Off<NetifExtraInfo>(nameof(NetifExtraInfo.XdpPad0)));
        yield return ("netif_extra_info.u.xdp.pad[1]", "offsetof(XNB_EXTRA_INFO, u.xdp.pad[1])", Off<NetifExtraInfo>(nameof(NetifExtraInfo.XdpPad1)));
        yield return ("XEN_NETIF_EXTRA_FLAG_MORE", "XEN_NETIF_EXTRA_FLAG_MORE", NetifExtraFlags.More);
        yield return ("XEN_NETIF_GSO_TYPE_NONE", "XEN_NETIF_GSO_TYPE_NONE", NetifGsoType.None);
        yield return ("XEN_NETIF_GSO_TYPE_TCPV4", "XEN_NETIF_GSO_TYPE_TCPV4", NetifGsoType.TcpV4);
        yield return ("XEN_NETIF_GSO_TYPE_TCPV6", "XEN_NETIF_GSO_TYPE_TCPV6", NetifGsoType.TcpV6);
        yield return ("XEN_NETIF_CTRL_TYPE_INVALID", "XEN_NETIF_CTRL_TYPE_INVALID", NetifCtrlType.Invalid);
        yield return ("XEN_NETIF_CTRL_TYPE_GET_HASH_FLAGS", "XEN_NETIF_CTRL_TYPE_GET_HASH_FLAGS", NetifCtrlType.GetHashFlags);
        yield return ("XEN_NETIF_CTRL_TYPE_SET_HASH_FLAGS", "XEN_NETIF_CTRL_TYPE_SET_HASH_FLAGS", NetifCtrlType.SetHashFlags);
        yield return ("XEN_NETIF_CTRL_TYPE_SET_HASH_KEY", "XEN_NETIF_CTRL_TYPE_SET_HASH_KEY", NetifCtrlType.SetHashKey);
        yield return ("XEN_NETIF_CTRL_TYPE_GET_HASH_MAPPING_SIZE", "XEN_NETIF_CTRL_TYPE_GET_HASH_MAPPING_SIZE", NetifCtrlType.GetHashMappingSize);
        yield return ("XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING_SIZE", "XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING_SIZE", NetifCtrlType.SetHashMappingSize);
        yield return ("XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING", "XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING", NetifCtrlType.SetHashMapping);
        yield return ("XEN_NETIF_CTRL_TYPE_SET_HASH_ALGORITHM", "XEN_NETIF_CTRL_TYPE_SET_HASH_ALGORITHM", NetifCtrlType.SetHashAlgorithm);
        yield return ("XEN_NETIF_CTRL_TYPE_GET_GREF_MAPPING_SIZE", "XEN_NETIF_CTRL_TYPE_GET_GREF_MAPPING_SIZE", NetifCtrlType.GetGrefMappingSize);
        yield return ("XEN_NETIF_CTRL_TYPE_ADD_GREF_MAPPING", "XEN_NETIF_CTRL_TYPE_ADD_GREF_MAPPING", NetifCtrlType.AddGrefMapping);
        yield return ("XEN_NETIF_CTRL_TYPE_DEL_GREF_MAPPING", "XEN_NETIF_CTRL_TYPE_DEL_GREF_MAPPING", NetifCtrlType.DelGrefMapping);
        yield return ("XEN_NETIF_CTRL_STATUS_SUCCESS", "XEN_NETIF_CTRL_STATUS_SUCCESS", NetifCtrlStatus.Success);
        yield return ("XEN_NETIF_CTRL_STATUS_NOT_SUPPORTED", "XEN_NETIF_CTRL_STATUS_NOT_SUPPORTED", NetifCtrlStatus.NotSupported);
        yield return ("XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER", "XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER", NetifCtrlStatus.InvalidParameter);
        yield return ("XEN_NETIF_CTRL_STATUS_BUFFER_OVERFLOW", "XEN_NETIF_CTRL_STATUS_BUFFER_OVERFLOW", NetifCtrlStatus.BufferOverflow);
        yield return ("XEN_NETIF_CTRL_HASH_ALGORITHM_NONE", "XEN_NETIF_CTRL_HASH_ALGORITHM_NONE", NetifCtrlStatus.HashAlgorithmNone);
        yield return ("XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ", "XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ", NetifCtrlStatus.HashAlgorithmToeplitz);
        yield return ("XEN_NETIF_CTRL_HASH_TYPE_IPV4", "XEN_NETIF_CTRL_HASH_TYPE_IPV4", NetifCtrlStatus.HashTypeIpv4);
        yield return ("XEN_NETIF_CTRL_HASH_TYPE_IPV4_TCP", "XEN_NETIF_CTRL_HASH_TYPE_IPV4_TCP", NetifCtrlStatus.HashTypeIpv4Tcp);
        yield return ("XEN_NETIF_CTRL_HASH_TYPE_IPV6", "XEN_NETIF_CTRL_HASH_TYPE_IPV6", NetifCtrlStatus.HashTypeIpv6);
        yield return ("XEN_NETIF_CTRL_HASH_TYPE_IPV6_TCP", "XEN_NETIF_CTRL_HASH_TYPE_IPV6_TCP", NetifCtrlStatus.HashTypeIpv6Tcp);
        yield return ("XEN_NETIF_NR_SLOTS_MIN", "XEN_NETIF_NR_SLOTS_MIN", NetifConstants.NrSlotsMin);
        yield return ("XEN_NETIF_MAX_TX_SIZE", "XEN_NETIF_MAX_TX_SIZE", NetifConstants.MaxTxSize);
    }

    /// <summary>Linux's gntdev grant-copy segment (xen/gntdev.h) and Xen's GNTCOPY_*/GNTST_* (xen/grant_table.h).</summary>
    private static IEnumerable<(string Name, string C, long CSharp)> GrantChecks()
    {
        yield return ("sizeof(gntdev_grant_copy_segment)", "sizeof(struct gntdev_grant_copy_segment)", Unsafe.SizeOf<GrantCopySegment>());
        yield return ("gntdev_grant_copy_segment.source", "offsetof(struct gntdev_grant_copy_segment, source)", Off<GrantCopySegment>(nameof(GrantCopySegment.Source)));
        yield return ("gntdev_grant_copy_segment.dest", "offsetof(struct gntdev_grant_copy_segment, dest)", Off<GrantCopySegment>(nameof(GrantCopySegment.Dest)));
        yield return ("gntdev_grant_copy_segment.len", "offsetof(struct gntdev_grant_copy_segment, len)", Off<GrantCopySegment>(nameof(GrantCopySegment.Length)));
        yield return ("gntdev_grant_copy_segment.flags", "offsetof(struct gntdev_grant_copy_segment, flags)", Off<GrantCopySegment>(nameof(GrantCopySegment.Flags)));
        yield return ("gntdev_grant_copy_segment.status", "offsetof(struct gntdev_grant_copy_segment, status)", Off<GrantCopySegment>(nameof(GrantCopySegment.Status)));
        yield return ("gntdev_grant_copy_segment.source.virt", "offsetof(struct gntdev_grant_copy_segment, source.virt)", Off<GrantCopyPointer>(nameof(GrantCopyPointer.Virt)));
        yield return ("gntdev_grant_copy_segment.source.foreign.ref", "offsetof(struct gntdev_grant_copy_segment, source.foreign.ref)", Off<GrantCopyPointer>(nameof(GrantCopyPointer.Ref)));
        yield return ("gntdev_grant_copy_segment.source.foreign.offset", "offsetof(struct gntdev_grant_copy_segment, source.foreign.offset)", Off<GrantCopyPointer>(nameof(GrantCopyPointer.Offset)));
        yield return ("gntdev_grant_copy_segment.source.foreign.domid", "offsetof(struct gntdev_grant_copy_segment, source.foreign.domid)", Off<GrantCopyPointer>(nameof(GrantCopyPointer.DomId)));
        yield return ("GNTCOPY_source_gref", "GNTCOPY_source_gref", GrantCopySegment.SourceGref);
        yield return ("GNTCOPY_dest_gref", "GNTCOPY_dest_gref", GrantCopySegment.DestGref);
        yield return ("GNTST_okay", "GNTST_okay", GrantStatus.Okay);
        yield return ("GNTST_general_error", "GNTST_general_error", GrantStatus.GeneralError);
        yield return ("GNTST_bad_domain", "GNTST_bad_domain", GrantStatus.BadDomain);
        yield return ("GNTST_bad_gntref", "GNTST_bad_gntref", GrantStatus.BadGntref);
        yield return ("GNTST_bad_handle", "GNTST_bad_handle", GrantStatus.BadHandle);
        yield return ("GNTST_bad_virt_addr", "GNTST_bad_virt_addr", GrantStatus.BadVirtAddr);
        yield return ("GNTST_bad_dev_addr", "GNTST_bad_dev_addr", GrantStatus.BadDevAddr);
        yield return ("GNTST_no_device_space", "GNTST_no_device_space", GrantStatus.NoDeviceSpace);
        yield return ("GNTST_permission_denied", "GNTST_permission_denied", GrantStatus.PermissionDenied);
        yield return ("GNTST_bad_page", "GNTST_bad_page", GrantStatus.BadPage);
        yield return ("GNTST_bad_copy_arg", "GNTST_bad_copy_arg", GrantStatus.BadCopyArg);
        yield return ("GNTST_address_too_big", "GNTST_address_too_big", GrantStatus.AddressTooBig);
        yield return ("GNTST_eagain", "GNTST_eagain", GrantStatus.Eagain);
    }

    private static string Probe(IEnumerable<(string Name, string C, long CSharp)> checks)
    {
        var c = new StringBuilder("""
            #include <stdint.h>
            #include <stddef.h>
            #include <stdio.h>
            /* ring.h leaves the barriers to its includer; the probe never runs a ring. */
            #define mb() __sync_synchronize()
            #define rmb() __sync_synchronize()
            #define wmb() __sync_synchronize()
            #include <xen/io/netif.h>
            #include <xen/grant_table.h>
            #include <xen/gntdev.h>
            #ifdef XEN_NETIF_EXTRA_TYPE_XDP
            #define XNB_EXTRA_INFO struct netif_extra_info
            #else
            /* Xen 4.17's netif.h predates the XDP extra. As the netif.h change that added it: the next
               free type (the old MAX), MAX one more, the limit, and u.xdp in the union. */
            enum { XNB_OLD_MAX = XEN_NETIF_EXTRA_TYPE_MAX }; /* its value now: a macro would expand later */
            #define XEN_NETIF_EXTRA_TYPE_XDP (XNB_OLD_MAX)
            #undef XEN_NETIF_EXTRA_TYPE_MAX
            #define XEN_NETIF_EXTRA_TYPE_MAX (XNB_OLD_MAX + 1)
            #define XEN_NETIF_MAX_XDP_HEADROOM 0x7FFF
            struct xnb_netif_extra_info {
                uint8_t type;
                uint8_t flags;
                union {
                    struct { uint16_t size; uint8_t type; uint8_t pad; uint16_t features; } gso;
                    struct { uint8_t addr[6]; } mcast;
                    struct { uint8_t type; uint8_t algorithm; uint8_t value[4]; } hash;
                    struct { uint16_t headroom; uint16_t pad[2]; } xdp;
                    uint16_t pad[3];
                } u;
            };
            /* The rest of the union must be the header's, or the copy above proves nothing. */
            _Static_assert(sizeof(struct xnb_netif_extra_info) == sizeof(struct netif_extra_info), "size");
            _Static_assert(offsetof(struct xnb_netif_extra_info, u.hash.value) == offsetof(struct netif_extra_info, u.hash.value), "hash");
            _Static_assert(offsetof(struct xnb_netif_extra_info, u.gso.features) == offsetof(struct netif_extra_info, u.gso.features), "gso");
            #define XNB_EXTRA_INFO struct xnb_netif_extra_info
            #endif
            int main(void)
            {

            """);
        foreach (var (name, expression, _) in checks)
            c.Append("    printf(\"%s %lld\\n\", \"").Append(name.Replace(' ', '_')).Append("\", (long long)(").Append(expression).Append("));\n");
        c.Append("    return 0;\n}\n");
        return c.ToString();
    }

    private static void AssertMatches(IEnumerable<(string Name, string C, long CSharp)> checks, params string[] headers)
    {
        var list = checks.ToList();
        var values = CProbe.ParseValues(CProbe.CompileAndRun(Probe(list), headers));
        var mismatches = new List<string>();
        foreach (var (name, expression, csharp) in list)
        {
            if (!values.TryGetValue(name.Replace(' ', '_'), out var cValue))
                mismatches.Add($"{name}: the probe printed no value for {expression}");
            else if (cValue != csharp)
                mismatches.Add($"{name}: C says {cValue} ({expression}), C# says {csharp}");
        }
        Assert.True(mismatches.Count == 0, $"{mismatches.Count} ABI mismatch(es):\n" + string.Join("\n", mismatches));
    }

    [SkippableFact]
    public void Netif_structs_rings_and_constants_match_xen_headers() =>
        AssertMatches(Checks(), "/usr/include/xen/io/netif.h", "/usr/include/xen/io/ring.h", "/usr/include/xen/grant_table.h", "/usr/include/xen/gntdev.h");

    [SkippableFact]
    public void Grant_copy_segment_and_grant_statuses_match_linux_and_xen_headers() =>
        AssertMatches(GrantChecks(), "/usr/include/xen/grant_table.h", "/usr/include/xen/gntdev.h", "/usr/include/xen/io/netif.h");

    /// <summary>The XDP extra as netfront reads it: type 5, no flags, the headroom little-endian at byte 2, zero padding.</summary>
    [Fact]
    public void Xdp_extra_is_laid_out_byte_for_byte_as_netif_h()
    {
        var extra = new NetifExtraInfo { Type = NetifExtraType.Xdp, Flags = NetifExtraFlags.More, XdpHeadroom = 0x1234 };
        var bytes = MemoryMarshal.AsBytes(MemoryMarshal.CreateReadOnlySpan(ref extra, 1)).ToArray();
        Assert.Equal(new byte[] { 5, 1, 0x34, 0x12, 0, 0, 0, 0 }, bytes);
    }

    [Fact]
    public void Probe_names_are_unique_so_no_value_hides_another()
    {
        var names = Checks().Concat(GrantChecks()).Select(c => c.Name.Replace(' ', '_')).ToList();
        Assert.Equal(names.Count, names.Distinct(StringComparer.Ordinal).Count());
    }
}
