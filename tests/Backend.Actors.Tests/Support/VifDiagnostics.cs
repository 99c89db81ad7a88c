using System.Text;
using Backend.Actors.Status;
using Backend.Xen.Buffers;
using Backend.Xen.Platform.Sim.Netfront;

namespace Backend.Actors.Tests.Support;

/// <summary>
/// What a failed traffic test needs to say where frames stopped: each vif's counters and ring indices as
/// the backend sees them, each guest's rings as the frontend sees them, and the buffers held.
/// </summary>
public static class VifDiagnostics
{
    public static string Describe(VifStatusRegistry status, PacketBufferPool? buffers, params SimNetfront[] guests)
    {
        var text = new StringBuilder();
        if (buffers is not null)
            text.Append($"buffers outstanding {buffers.Outstanding}; ");
        foreach (var v in status.Snapshot())
        {
            text.Append($"vif{v.Id}: {v.State} disabled {v.Disabled} tx {Interlocked.Read(ref v.TxPackets)} rx {Interlocked.Read(ref v.RxPackets)} ")
                .Append($"rx queued {Volatile.Read(ref v.RxQueued)} rx dropped {Interlocked.Read(ref v.RxDropped)} events {Interlocked.Read(ref v.Events)} ")
                .Append($"spurious {Interlocked.Read(ref v.SpuriousEvents)} restarts {Interlocked.Read(ref v.Restarts)} ")
                .Append($"TX req_cons {Volatile.Read(ref v.TxReqCons)} rsp_prod {Volatile.Read(ref v.TxRspProd)} ")
                .Append($"RX req_cons {Volatile.Read(ref v.RxReqCons)} rsp_prod {Volatile.Read(ref v.RxRspProd)}; ");
            if (v.BridgePort is { } port)
                text.Append($"port {port.Name} connected {port.Connected} backlog {port.Backlog?.Frames}/{port.Backlog?.Bytes} dropped backlog {Interlocked.Read(ref port.FramesDroppedBacklog)} down {Interlocked.Read(ref port.FramesDroppedDown)} mtu {Interlocked.Read(ref port.FramesDroppedMtu)}; ");
        }
        foreach (var g in guests)
            text.Append(g.DescribeRings()).Append("; ");
        return text.ToString();
    }
}
