namespace Backend.Host.Soak;

/// <summary>
/// The receiving end of one stream: every sequence number is expected once, in order, intact. A frame
/// ahead of the next expected one opens a gap (frames lost, or overtaken); one that fills a gap later
/// was out of order; one at or below what has arrived and in no gap is a duplicate. What was sent and
/// never arrived is lost. Losses and duplicates inside an excused range (a fault that SIMXEN allows to
/// lose or repeat frames in flight, <see cref="Excuse"/>) are counted apart, by the fault's class.
/// Called on the receiving guest's event channel loop (one thread at a time); read by the runner under its lock.
/// </summary>
internal sealed class SoakStreamCheck(ushort stream)
{
    private readonly Lock _gate = new();
    private readonly List<(long From, long To)> _gaps = [];
    private readonly List<(long From, long To, string Class)> _excuses = [];
    private long _expected;
    private long _received;
    private long _corrupted;
    private long _duplicates;
    private long _excusedDuplicates;
    private long _outOfOrder;

    public ushort Stream { get; } = stream;

    /// <summary>The highest sequence number seen plus one: the sender's acknowledgement for its window.</summary>
    public long Expected
    {
        get
        {
            lock (_gate)
                return _expected;
        }
    }

    public long Received
    {
        get
        {
            lock (_gate)
                return _received;
        }
    }

    public void Observe(long sequence, bool intact)
    {
        lock (_gate)
        {
            if (!intact || sequence < 0)
            {
                _corrupted++;
                return;
            }
            if (sequence == _expected)
            {
                _expected++;
                _received++;
                return;
            }
            if (sequence > _expected)
            {
                _gaps.Add((_expected, sequence));
                _expected = sequence + 1;
                _received++;
                return;
            }
            for (var i = 0; i < _gaps.Count; i++)
            {
                var (from, to) = _gaps[i];
                if (sequence < from || sequence >= to)
                    continue;
                _gaps.RemoveAt(i);
                if (from < sequence)
                    _gaps.Add((from, sequence));
                if (sequence + 1 < to)
                    _gaps.Add((sequence + 1, to));
                _outOfOrder++;
                _received++;
                return;
            }
            if (ExcuseOf(sequence) is not null)
                _excusedDuplicates++;
            else
                _duplicates++;
        }
    }

    /// <summary>Frames <paramref name="from"/> up to <paramref name="to"/> (exclusive) may be lost or repeated: a fault of <paramref name="faultClass"/> hit them in flight.</summary>
    public void Excuse(long from, long to, string faultClass)
    {
        lock (_gate)
            _excuses.Add((Math.Max(0, from), to, faultClass));
    }

    /// <summary>The stream's figures once its sender has stopped at <paramref name="sent"/> frames and the rest has had time to arrive.</summary>
    public SoakStreamResult Result(long sent)
    {
        lock (_gate)
        {
            var missing = new List<(long From, long To)>(_gaps);
            if (sent > _expected)
                missing.Add((_expected, sent));
            long lost = 0;
            var excused = new Dictionary<string, long>(StringComparer.Ordinal);
            var firstLost = -1L;
            foreach (var (from, to) in missing)
            {
                for (var s = from; s < to; s++)
                {
                    if (ExcuseOf(s) is { } c)
                    {
                        excused[c] = excused.GetValueOrDefault(c) + 1;
                    }
                    else
                    {
                        lost++;
                        if (firstLost < 0 || s < firstLost)
                            firstLost = s;
                    }
                }
            }
            return new SoakStreamResult
            {
                Stream = Stream,
                Sent = sent,
                Received = _received,
                Lost = lost,
                FirstLost = firstLost < 0 ? null : firstLost,
                ExcusedLost = excused,
                Corrupted = _corrupted,
                Duplicates = _duplicates,
                ExcusedDuplicates = _excusedDuplicates,
                OutOfOrder = _outOfOrder,
            };
        }
    }

    /// <summary>The frames of an excused range lost so far (for the SIGKILL bound of one window).</summary>
    public long LostIn(long from, long to)
    {
        lock (_gate)
        {
            long lost = 0;
            foreach (var (gf, gt) in _gaps)
                lost += Math.Max(0, Math.Min(gt, to) - Math.Max(gf, from));
            return lost;
        }
    }

    private string? ExcuseOf(long sequence)
    {
        foreach (var (from, to, c) in _excuses)
        {
            if (sequence >= from && sequence < to)
                return c;
        }
        return null;
    }
}
