using System.Diagnostics;
using Backend.Xen.Abi;
using Backend.Xen.Platform.Sim.Netfront;

namespace Backend.Host.Soak;

/// <summary>
/// The hostile frontends the soak lets loose mid-run, one class of SIMXEN "Hostile frontends" each, plus
/// a slot flood and an event-channel storm, and what the daemon must do about each: disable the vif
/// (fatal), answer with errors and go on, leave an incomplete packet waiting, or keep up.
/// </summary>
internal static class SoakHostile
{
    public const string Fatal = "disabled";
    public const string Errors = "errors";
    public const string Stall = "stalled";
    public const string Survive = "served";

    /// <summary>Every class, with the outcome the daemon owes it.</summary>
    public static readonly IReadOnlyList<(string Name, string Outcome)> Classes =
    [
        ("tx-impossible-req-prod", Fatal),
        ("rx-impossible-req-prod", Fatal),
        ("tx-22-slots", Fatal),
        ("tx-slot-crosses-page", Fatal),
        ("tx-unknown-extra", Fatal),
        ("tx-gso-size-0", Fatal),
        ("tx-gso-unknown-type", Fatal),
        ("tx-20-slots", Errors),
        ("tx-slot-larger-than-packet", Errors),
        ("tx-first-slot-under-14-bytes", Errors),
        ("tx-bad-grant", Errors),
        ("tx-incomplete-packet", Stall),
        ("slot-flood", Survive),
        ("event-channel-storm", Survive),
    ];

    public static string OutcomeOf(string name) => Classes.First(c => c.Name == name).Outcome;

    /// <summary>Does what class <paramref name="name"/> does; a flood or a storm lasts <paramref name="duration"/>.</summary>
    public static async Task MisbehaveAsync(HostileFrontend front, string name, TimeSpan duration, CancellationToken cancellationToken)
    {
        switch (name)
        {
            case "tx-impossible-req-prod":
                front.PublishTxRequestProducer(front.TxResponseProducer + NetifConstants.TxRingSize + 1);
                break;
            case "rx-impossible-req-prod":
                front.PublishRxRequestProducer(front.RxResponseProducer + NetifConstants.RxRingSize + 44);
                break;
            case "tx-22-slots":
                PutPacket(front, 22, complete: false);
                front.PushTx();
                break;
            case "tx-slot-crosses-page":
                front.PutTx(Slot(0, 300, more: true));
                front.PutTx(Slot(1, 200, more: false, offset: 4000));
                front.PushTx();
                break;
            case "tx-unknown-extra":
                front.PutTx(Slot(0, 60, more: false, flags: NetTxFlags.ExtraInfo));
                front.PutTxExtra(new NetifExtraInfo { Type = 7 });
                front.PushTx();
                break;
            case "tx-gso-size-0":
                front.PutTx(Slot(0, 60, more: false, flags: NetTxFlags.ExtraInfo));
                front.PutTxExtra(new NetifExtraInfo { Type = NetifExtraType.Gso, GsoSize = 0, GsoType = NetifGsoType.TcpV4 });
                front.PushTx();
                break;
            case "tx-gso-unknown-type":
                front.PutTx(Slot(0, 60, more: false, flags: NetTxFlags.ExtraInfo));
                front.PutTxExtra(new NetifExtraInfo { Type = NetifExtraType.Gso, GsoSize = 1448, GsoType = 9 });
                front.PushTx();
                break;
            case "tx-20-slots":
                PutPacket(front, 20, complete: true);
                front.PushTx();
                break;
            case "tx-slot-larger-than-packet":
                front.PutTx(Slot(0, 100, more: true));
                front.PutTx(Slot(1, 200, more: false));
                front.PushTx();
                break;
            case "tx-first-slot-under-14-bytes":
                front.PutTx(Slot(0, 20, more: true));
                front.PutTx(Slot(1, 10, more: false));
                front.PushTx();
                break;
            case "tx-bad-grant":
                front.PutTx(new NetifTxRequest { Gref = 5000, Id = 0, Size = 60 });
                front.PushTx();
                break;
            case "tx-incomplete-packet":
                front.PutTx(Slot(0, 300, more: true));
                front.PushTx();
                break;
            case "slot-flood":
                await FloodAsync(front, duration, cancellationToken).ConfigureAwait(false);
                break;
            case "event-channel-storm":
                var storm = Stopwatch.StartNew();
                while (storm.Elapsed < duration && !cancellationToken.IsCancellationRequested)
                {
                    for (var i = 0; i < 1000; i++)
                        front.Notify();
                    await Task.Yield();
                }
                break;
            default:
                throw new ArgumentException($"no hostile class \"{name}\"", nameof(name));
        }
    }

    /// <summary>
    /// Fills the TX ring with valid one-slot frames to a MAC nobody has, as fast as responses free it, for
    /// <paramref name="duration"/>; every request must come back answered.
    /// </summary>
    private static async Task FloodAsync(HostileFrontend front, TimeSpan duration, CancellationToken cancellationToken)
    {
        var frame = new byte[60];
        byte[] nobody = [0x02, 0x00, 0x00, 0xde, 0xad, 0x01];
        nobody.CopyTo(frame, 0);
        front.Mac.CopyTo(frame, 6);
        frame[12] = 0x88;
        frame[13] = 0xb7;
        const int page = HostileFrontend.TxDataPages - 1;
        var gref = front.GrantTxData(page, frame);
        var flood = Stopwatch.StartNew();
        while (flood.Elapsed < duration && !cancellationToken.IsCancellationRequested)
        {
            // One page serves every request: the backend only reads it.
            var room = NetifConstants.TxRingSize - (int)(front.TxProducer - front.TxResponseProducer);
            for (var i = 0; i < room; i++)
                front.PutTx(new NetifTxRequest { Gref = gref, Id = (ushort)(front.TxProducer % NetifConstants.TxRingSize), Size = (ushort)frame.Length });
            if (room > 0)
                front.PushTx();
            await Task.Delay(1, cancellationToken).ConfigureAwait(false);
        }
    }

    private static NetifTxRequest Slot(ushort id, int size, bool more, ushort offset = 0, NetTxFlags flags = NetTxFlags.None) =>
        new() { Gref = 8, Id = id, Offset = offset, Size = (ushort)size, Flags = (ushort)(flags | (more ? NetTxFlags.MoreData : NetTxFlags.None)) };

    /// <summary>A packet of <paramref name="slots"/> data slots of 100 bytes each.</summary>
    private static void PutPacket(HostileFrontend front, int slots, bool complete)
    {
        front.PutTx(Slot(0, slots * 100, more: slots > 1 || !complete));
        for (var i = 1; i < slots; i++)
            front.PutTx(Slot((ushort)i, 100, more: i < slots - 1 || !complete));
    }
}
