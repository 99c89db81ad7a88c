using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Backend.Xen.Abi;
using Backend.Xen.Grants;
using Backend.Xen.Netback;
using Backend.Xen.Offload;
using Backend.Xen.Platform.Sim;
using Backend.Xen.Rings;
using Backend.Xen.XenStore;

namespace Backend.Host.Bench;

/// <summary>
/// The same work as the daemon's guest-to-guest path, as a plain single-threaded C# loop over the protocol
/// core (Backend.Xen's packet functions and SIMXEN grant copies), with no actors, no event channels and the
/// frontends' side inlined: a sender's TX ring and a receiver's RX ring in two simulated guests' memory.
/// Each round the sender fills its ring, the receiver posts buffers, then the loop drains TX (parse, plan,
/// ONE copy batch into local buffers, respond), plans RX for those frames (ONE copy batch into the posted
/// pages, respond), and both frontends take their responses. Grants stay in place between rounds (a real
/// netfront grants per use), so this is a ceiling for the backend's share, not a full guest's path.
/// </summary>
internal static unsafe class CoreLoop
{
    private const ushort BackendDomId = 0;
    private const ushort SenderDomId = 1;
    private const ushort ReceiverDomId = 2;
    private const int RingSize = NetifConstants.TxRingSize;
    private const int PageSize = NetifConstants.PageSize;
    private const uint FirstGref = SimRoot.ReservedGrantReferences;
    /// <summary>The ring page's grant reference, after the data pages' (FirstGref + i).</summary>
    private const uint RingGref = FirstGref + RingSize;

    public static CoreLoopResult Run(int size, TimeSpan budget)
    {
        var gso = size == BenchFrame.GsoFrameLength;
        var path = string.Create(CultureInfo.InvariantCulture, $"/dev/shm/xnb-core-{Environment.ProcessId}");
        var root = new SimRoot(path);
        var platform = new SimXenPlatform(root, BackendDomId, _ => Task.FromException<IXenStore>(new NotSupportedException("the core loop uses no xenstore")));
        var sender = SimDomain.CreateGuest(root, SenderDomId, 1 + RingSize);
        var receiver = SimDomain.CreateGuest(root, ReceiverDomId, 1 + RingSize);
        var dataSlots = (size + PageSize - 1) / PageSize;
        var ringSlots = dataSlots + (gso ? 1 : 0);
        var framesPerRound = RingSize / ringSlots;
        var local = (byte*)NativeMemory.AlignedAlloc((nuint)(framesPerRound * 65536), PageSize);
        IGrantMapping? txRing = null, rxRing = null;
        try
        {
            var copier = platform.CreateGrantCopier();
            var txPage = Address(sender.Page(0));
            var rxPage = Address(receiver.Page(0));
            var txFront = new FrontRing<NetifTxRequest, NetifTxResponse>(txPage);
            txFront.Initialise();
            var rxFront = new FrontRing<NetifRxRequest, NetifRxResponse>(rxPage);
            rxFront.Initialise();
            // The back rings through the grant mapper, as the daemon's: a mapped ring page is also what keeps
            // a guest's memory and grant table open between copy batches (SimForeignDomains holds no
            // reference of its own, so without it every batch would open and map the guest's files anew).
            sender.Granter!.Grant(RingGref, 0, BackendDomId, readOnly: false);
            receiver.Granter!.Grant(RingGref, 0, BackendDomId, readOnly: false);
            txRing = platform.GrantMapper.Map(SenderDomId, RingGref, writable: true);
            rxRing = platform.GrantMapper.Map(ReceiverDomId, RingGref, writable: true);
            var txBack = new BackRing<NetifTxRequest, NetifTxResponse>(txRing.Address);
            var rxBack = new BackRing<NetifRxRequest, NetifRxResponse>(rxRing.Address);
            for (var i = 0u; i < RingSize; i++)
            {
                sender.Page(1 + i).Fill((byte)i);
                sender.Granter!.Grant(FirstGref + i, 1 + i, BackendDomId, readOnly: true);
                receiver.Granter!.Grant(FirstGref + i, 1 + i, BackendDomId, readOnly: false);
            }
            var slots = new NetifTxRequest[RingSize + TxPacketParser.ScratchSlots];
            var packets = new TxPacket[RingSize];
            var slotOffsets = new int[RingSize];
            var rxPackets = new RxPacket[RingSize];
            var txBatch = new GrantCopySegment[RingSize * 2];
            var rxBatch = new GrantCopySegment[RingSize * 3];

            long frames = 0;
            var stopwatch = Stopwatch.StartNew();
            var started = Stopwatch.GetTimestamp();
            while (stopwatch.Elapsed < budget || frames == 0)
            {
                // The sender's netfront: one frame per ringSlots requests, a page per data slot.
                for (var f = 0; f < framesPerRound; f++)
                {
                    var prod = txFront.RequestProducer;
                    var remaining = size;
                    for (var s = 0; s < dataSlots; s++)
                    {
                        var chunk = Math.Min(PageSize, remaining);
                        remaining -= chunk;
                        var id = (ushort)(prod & (RingSize - 1));
                        var flags = (remaining > 0 ? NetTxFlags.MoreData : NetTxFlags.None)
                            | (s == 0 && gso ? NetTxFlags.ExtraInfo | NetTxFlags.CsumBlank : NetTxFlags.None);
                        txFront.WriteRequest(prod++, new NetifTxRequest { Gref = FirstGref + id, Offset = 0, Flags = (ushort)flags, Id = id, Size = (ushort)(s == 0 ? size : chunk) });
                        if (s == 0 && gso)
                        {
                            var extra = new NetifExtraInfo { Type = NetifExtraType.Gso, GsoSize = BenchFrame.GsoSize, GsoType = NetifGsoType.TcpV4 };
                            var slot = default(NetifTxRequest);
                            Unsafe.WriteUnaligned(ref Unsafe.As<NetifTxRequest, byte>(ref slot), extra);
                            txFront.WriteRequest(prod++, slot);
                        }
                    }
                    txFront.RequestProducer = prod;
                }
                txFront.PushRequestsAndCheckNotify();
                // The receiver's netfront: a page in every free request.
                while (rxFront.FreeRequests > 0)
                {
                    var prod = rxFront.RequestProducer;
                    var id = (ushort)(prod & (RingSize - 1));
                    rxFront.WriteRequest(prod, new NetifRxRequest { Id = id, Gref = FirstGref + id });
                    rxFront.RequestProducer = prod + 1;
                }
                rxFront.PushRequestsAndCheckNotify();

                // The backend: TX drain, one copy batch.
                var reqProd = txBack.ReadRequestProducer();
                var count = 0;
                var used = 0;
                var slotsUsed = 0;
                while (count < framesPerRound)
                {
                    var scratch = slots.AsSpan(slotsUsed);
                    var packet = TxPacketParser.Parse(txBack, reqProd, scratch);
                    if (packet.Outcome != TxOutcome.Packet)
                        break;
                    if (!TxCopyPlanner.TryPlan(packet, scratch, SenderDomId, (nint)(local + count * 65536), 65536, txBatch.AsSpan(used), out var n))
                        throw new InvalidOperationException("the core loop's TX batch is too small");
                    used += n;
                    packets[count] = packet;
                    slotOffsets[count] = slotsUsed;
                    slotsUsed += packet.DataSlots;
                    txBack.RequestConsumer = unchecked(txBack.RequestConsumer + (uint)packet.RingSlots);
                    count++;
                }
                copier.Copy(txBatch.AsSpan(0, used));
                for (var i = 0; i < count; i++)
                    TxResponder.Respond(txBack, packets[i], slots.AsSpan(slotOffsets[i], packets[i].DataSlots), NetifResponseStatus.Okay);
                txBack.PushResponsesAndCheckNotify();

                // RX: plan every frame, one copy batch, respond.
                var rxReqProd = rxBack.ReadRequestProducer();
                var rxUsed = 0;
                var delivered = 0;
                for (var i = 0; i < count; i++)
                {
                    var p = packets[i];
                    var frame = new RxFrame((nint)(local + i * 65536), p.TotalLength, p.GsoType, p.GsoSize, p.ChecksumBlank ? FrameChecksum.Blank : FrameChecksum.None);
                    if (RxSlotPlanner.Plan(frame, rxBack, rxReqProd, out rxPackets[delivered]) != RxPlanStatus.Ok)
                        break;
                    if (!RxCopyPlanner.TryPlan(frame, ref rxPackets[delivered], rxBack, ReceiverDomId, rxBatch, ref rxUsed))
                        throw new InvalidOperationException("the core loop's RX batch is too small");
                    delivered++;
                }
                copier.Copy(rxBatch.AsSpan(0, rxUsed));
                for (var s = 0; s < rxUsed; s++)
                {
                    if (rxBatch[s].Status != GrantStatus.Okay)
                        throw new InvalidOperationException($"core loop copy failed with GNTST {rxBatch[s].Status}");
                }
                RxResponder.RespondAll(rxPackets.AsSpan(0, delivered), rxBatch.AsSpan(0, rxUsed), rxBack);
                rxBack.PushResponsesAndCheckNotify();

                // Both frontends take their responses.
                txFront.ResponseConsumer += txFront.UnconsumedResponses();
                rxFront.ResponseConsumer += rxFront.UnconsumedResponses();
                frames += delivered;
                if (delivered == 0)
                    throw new InvalidOperationException("the core loop delivered nothing in a round");
            }
            var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
            var fps = frames / seconds;
            return new CoreLoopResult(size, gso, fps, fps * size * 8 / 1e9);
        }
        finally
        {
            NativeMemory.AlignedFree(local);
            txRing?.Dispose();
            rxRing?.Dispose();
            sender.Dispose();
            receiver.Dispose();
            platform.DisposeAsync().AsTask().GetAwaiter().GetResult();
            Directory.Delete(path, recursive: true);
        }
    }

    private static nint Address(Span<byte> page) => (nint)Unsafe.AsPointer(ref MemoryMarshal.GetReference(page));
}
