using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Backend.Xen.Abi;
using Backend.Xen.Grants;
using Backend.Xen.Netback;
using Backend.Xen.Rings;
using CsCheck;

namespace Backend.Xen.Tests.Netback;

/// <summary>
/// Random and hostile frontends against the TX side, driven as the ring actor drives it: read req_prod,
/// parse, batch the copies, answer in ring order, push, stop for good on a fatal outcome.
/// </summary>
public sealed unsafe class TxHostileFrontendPropertyTests
{
    private const ushort FrontendDomId = 3;
    private const int Canary = 0x5A;

    /// <summary>One thing the frontend does: push slots, scribble req_prod, or collect responses.</summary>
    public readonly record struct FrontendAction(int Kind, NetifTxRequest[] Slots, uint ReqProd);

    private static readonly Gen<NetifTxRequest> DataSlot =
        Gen.Select(Gen.UInt[0, 40], Gen.UShort[0, 4200], Gen.UShort[0, 15], Gen.UShort, Gen.Frequency((6, Gen.UShort[0, 2000]), (1, Gen.UShort)),
            (gref, offset, flags, id, size) => new NetifTxRequest { Gref = gref, Offset = offset, Flags = flags, Id = id, Size = size });

    private static readonly Gen<NetifTxRequest> ExtraSlot =
        Gen.Select(Gen.Byte[0, 6], Gen.Byte[0, 1], Gen.UShort[0, 3], Gen.Byte[0, 3], (type, flags, size, gsoType) =>
        {
            var extra = new NetifExtraInfo { Type = type, Flags = flags, GsoSize = (ushort)(size * 700), GsoType = gsoType };
            NetifTxRequest slot = default;
            Unsafe.As<NetifTxRequest, NetifExtraInfo>(ref slot) = extra;
            return slot;
        });

    private static readonly Gen<NetifTxRequest> RandomSlot =
        Gen.Select(Gen.UInt, Gen.UShort, Gen.UShort, Gen.UShort, Gen.UShort,
            (gref, offset, flags, id, size) => new NetifTxRequest { Gref = gref, Offset = offset, Flags = flags, Id = id, Size = size });

    private static readonly Gen<NetifTxRequest> AnySlot = Gen.Frequency((8, DataSlot), (2, ExtraSlot), (1, RandomSlot));

    private static readonly Gen<FrontendAction> Action = Gen.Frequency(
        (8, AnySlot.Array[1, 30].Select(slots => new FrontendAction(0, slots, 0))),
        (1, Gen.UInt.Select(reqProd => new FrontendAction(1, [], reqProd))),
        (1, Gen.UInt[0, 300].Select(delta => new FrontendAction(2, [], delta))),
        (3, Gen.Const(new FrontendAction(3, [], 0))));

    /// <summary>How often each outcome came up, so that the property is known not to hold vacuously.</summary>
    private static readonly long[] Outcomes = new long[Enum.GetValues<TxOutcome>().Length];

    [Fact]
    public void Hostile_request_sequences_never_throw_stay_in_the_ring_and_answer_each_consumed_request_once()
    {
        Action.Array[1, 40].Sample(Run, iter: 600);
        foreach (var outcome in Enum.GetValues<TxOutcome>())
            Assert.True(Interlocked.Read(ref Outcomes[(int)outcome]) > 0, $"the generated frontends never produced a {outcome} outcome");
    }

    private static void Run(FrontendAction[] actions)
    {
        // The ring page sits between two canary pages, so that a stray write shows.
        var block = (byte*)NativeMemory.AlignedAlloc(3 * 4096, 4096);
        var buffer = (byte*)NativeMemory.Alloc(65536);
        try
        {
            new Span<byte>(block, 3 * 4096).Fill(Canary);
            var page = (nint)(block + 4096);
            new Span<byte>((void*)page, 4096).Clear();
            var front = new FrontRing<NetifTxRequest, NetifTxResponse>(page);
            front.Initialise();
            var back = new BackRing<NetifTxRequest, NetifTxResponse>(page);
            back.AttachAtResponseProducer();
            var sring = (SharedRingHeader*)page;

            // What the frontend wrote at each absolute index, to check every response's id.
            var written = new Dictionary<uint, NetifTxRequest>();
            // Once the frontend scribbles req_prod, the backend reads slots the frontend never wrote (or
            // rewrites later), so ids can only be checked while it has not.
            var honest = true;
            var driver = new Driver(back, (nint)buffer);

            foreach (var action in actions)
            {
                switch (action.Kind)
                {
                    case 0:
                        foreach (var slot in action.Slots)
                        {
                            if (front.FreeRequests == 0)
                                break;
                            written[front.RequestProducer] = slot;
                            front.WriteRequest(front.RequestProducer++, slot);
                        }
                        front.PushRequestsAndCheckNotify();
                        break;
                    case 1:
                        honest = false;
                        Volatile.Write(ref sring->ReqProd, action.ReqProd);
                        break;
                    case 2:
                        honest = false;
                        Volatile.Write(ref sring->ReqProd, unchecked(back.RequestConsumer + action.ReqProd));
                        break;
                    default:
                        while (front.UnconsumedResponses() != 0 && front.UnconsumedResponses() <= (uint)front.Size)
                        {
                            var index = front.ResponseConsumer++;
                            var response = front.CopyResponse(index);
                            if (honest)
                            {
                                Assert.True(written.TryGetValue(index, out var request), $"a response at {index}, where the frontend wrote no request");
                                if (response.Status != NetifResponseStatus.Null)
                                    Assert.Equal(request.Id, response.Id);
                                Assert.Contains(response.Status, new[] { NetifResponseStatus.Okay, NetifResponseStatus.Error, NetifResponseStatus.Null });
                            }
                        }
                        break;
                }

                driver.Drain();

                // Every consumed request is answered (and pushed) before the drain ends.
                Assert.Equal(back.RequestConsumer, back.ResponseProducer);
                Assert.Equal(back.ResponseProducer, Volatile.Read(ref sring->RspProd));
                Assert.Equal(driver.Consumed, back.RequestConsumer);
                if (driver.Disabled)
                    Assert.Equal(driver.DisabledAt, back.RequestConsumer);
            }

            for (var i = 0; i < 4096; i++)
            {
                Assert.True(block[i] == Canary, $"byte {i} before the ring page was written");
                Assert.True(block[2 * 4096 + i] == Canary, $"byte {i} after the ring page was written");
            }
        }
        finally
        {
            NativeMemory.AlignedFree(block);
            NativeMemory.Free(buffer);
        }
    }

    /// <summary>The TX drain loop of a ring actor, with a simulated grant copier.</summary>
    private sealed class Driver(BackRing<NetifTxRequest, NetifTxResponse> ring, nint buffer)
    {
        private readonly GrantCopySegment[] _batch = new GrantCopySegment[32];
        private readonly List<(TxPacket Packet, NetifTxRequest[] Slots, int FirstSegment, int Segments)> _pending = [];
        private int _batchUsed;
        private uint _consumed;

        public bool Disabled { get; private set; }

        /// <summary>req_cons when the vif was disabled: it must never move again.</summary>
        public uint DisabledAt { get; private set; }

        public uint Consumed => _consumed;

        public void Drain()
        {
            var slots = new NetifTxRequest[TxPacketParser.ScratchSlots];
            for (var guard = 0; !Disabled && guard < 1000; guard++)
            {
                var reqProd = ring.ReadRequestProducer();
                var before = ring.RequestConsumer;
                var available = ring.RequestProducerOverflow(reqProd) ? 0 : ring.UnconsumedRequests(reqProd);
                var packet = TxPacketParser.Parse(ring, reqProd, slots);
                Interlocked.Increment(ref Outcomes[(int)packet.Outcome]);
                Assert.Equal(before, ring.RequestConsumer);
                Assert.True((uint)packet.RingSlots <= available, $"{packet.RingSlots} slots consumed of {available} available");

                if (packet.Outcome == TxOutcome.Fatal)
                {
                    Assert.NotEqual(TxFault.None, packet.Fault);
                    Assert.Equal(0, packet.RingSlots);
                    Flush();
                    Disabled = true;
                    DisabledAt = ring.RequestConsumer;
                    return;
                }
                if (packet.Outcome == TxOutcome.Empty)
                {
                    Flush();
                    if (!ring.FinalCheckForRequests())
                        return;
                    continue;
                }
                if (packet.Outcome == TxOutcome.Partial)
                {
                    Assert.Equal(0, packet.RingSlots);
                    Flush();
                    ring.SetRequestEvent(unchecked(reqProd + 1));
                    if (ring.ReadRequestProducer() == reqProd)
                        return;
                    continue;
                }

                Assert.True(packet.DataSlots is >= 1 and <= TxPacketParser.ScratchSlots);
                Assert.Equal(packet.Outcome == TxOutcome.Error, packet.Error != TxError.None);
                var copy = slots.AsSpan(0, packet.DataSlots).ToArray();
                var first = _batchUsed;
                var segments = 0;
                if (packet.Outcome == TxOutcome.Packet)
                {
                    Assert.True(packet.DataSlots <= TxPacketParser.MaxSlots);
                    Assert.True(packet.FirstLength >= NetifConstants.EthernetHeaderLength);
                    if (!TxCopyPlanner.TryPlan(packet, copy, FrontendDomId, buffer, 65536, _batch.AsSpan(_batchUsed), out segments))
                    {
                        Flush();
                        first = 0;
                        Assert.True(TxCopyPlanner.TryPlan(packet, copy, FrontendDomId, buffer, 65536, _batch, out segments), "a packet must fit an empty batch");
                    }
                    CheckSegments(packet, _batch.AsSpan(first, segments));
                    _batchUsed = first + segments;
                }
                ring.RequestConsumer += (uint)packet.RingSlots;
                _consumed += (uint)packet.RingSlots;
                _pending.Add((packet, copy, first, segments));
            }
            Flush();
        }

        private void CheckSegments(in TxPacket packet, ReadOnlySpan<GrantCopySegment> segments)
        {
            var total = 0;
            foreach (var s in segments)
            {
                Assert.Equal(GrantCopySegment.SourceGref, s.Flags);
                Assert.Equal(FrontendDomId, s.Source.DomId);
                Assert.True(s.Length > 0, "an empty segment");
                Assert.True(s.Source.Offset + s.Length <= NetifConstants.PageSize, $"a source crossing its page: {s.Source.Offset}+{s.Length}");
                Assert.Equal(buffer + total, s.Dest.Virt);
                total += s.Length;
            }
            Assert.Equal(packet.TotalLength, total);
        }

        /// <summary>Runs the batch's copies (a grant reference divisible by 13 fails), then answers in ring order.</summary>
        private void Flush()
        {
            for (var i = 0; i < _batchUsed; i++)
                _batch[i].Status = _batch[i].Source.Ref % 13 == 0 ? GrantStatus.BadGntref : GrantStatus.Okay;
            foreach (var (packet, slots, first, count) in _pending)
            {
                var status = TxResponder.StatusOf(packet);
                if (packet.Outcome == TxOutcome.Packet && !TxCopyPlanner.Succeeded(_batch.AsSpan(first, count), out _))
                    status = NetifResponseStatus.Error;
                TxResponder.Respond(ring, packet, slots, status);
            }
            _pending.Clear();
            _batchUsed = 0;
            ring.PushResponsesAndCheckNotify();
        }
    }
}
