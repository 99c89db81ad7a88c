using System.Globalization;
using System.Runtime.InteropServices;
using Backend.Xen.Grants;
using Backend.Xen.Platform.Sim;
using Backend.Xen.XenStore;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;

namespace Backend.Benchmarks;

/// <summary>
/// SIMXEN grant-copy throughput: one batch of 64 copies from a local buffer into 64 granted pages of a
/// simulated guest in /dev/shm, as the backend's RX path does. The GB/s column is copied bytes per
/// second of one batch (64 × Size bytes). With <see cref="RingMapped"/> a ring page of the guest stays
/// mapped throughout, as a connected vif's are in the daemon: the guest's files then stay open between
/// batches, and a batch costs the copies and their grant pins; without it each batch opens and maps
/// them afresh.
/// </summary>
[MemoryDiagnoser]
[Config(typeof(ThroughputConfig))]
public unsafe class GrantCopyBenchmarks
{
    private const int Batch = 64;
    private const ushort BackendDomId = 0;
    private const ushort GuestDomId = 1;

    private string _rootPath = "";
    private SimXenPlatform? _platform;
    private SimDomain? _guest;
    private IGrantCopier? _copier;
    private GrantCopySegment[] _segments = [];
    private void* _local;

    private IGrantMapping? _ring;

    [Params(64, 4096)]
    public int Size { get; set; }

    [Params(false, true)]
    public bool RingMapped { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _rootPath = Path.Combine(Directory.Exists("/dev/shm") ? "/dev/shm" : Path.GetTempPath(), "xnb-bench-" + Environment.ProcessId.ToString(CultureInfo.InvariantCulture));
        var root = new SimRoot(_rootPath);
        _platform = new SimXenPlatform(root, BackendDomId, _ => Task.FromException<IXenStore>(new NotSupportedException("the benchmark uses no xenstore")));
        _guest = SimDomain.CreateGuest(root, GuestDomId, Batch);
        _copier = _platform.CreateGrantCopier();
        if (RingMapped)
        {
            var ringRef = (uint)(SimRoot.ReservedGrantReferences + Batch);
            _guest.Granter!.Grant(ringRef, frame: 0, BackendDomId, readOnly: false);
            _ring = _platform.GrantMapper.Map(GuestDomId, ringRef, writable: true);
        }
        _local = NativeMemory.AlignedAlloc(4096, 64);
        new Span<byte>(_local, 4096).Fill(0x5a);
        _segments = new GrantCopySegment[Batch];
        for (var i = 0; i < Batch; i++)
        {
            var gref = (uint)(SimRoot.ReservedGrantReferences + i);
            _guest.Granter!.Grant(gref, frame: (uint)i, BackendDomId, readOnly: false);
            _segments[i] = new GrantCopySegment
            {
                Source = GrantCopyPointer.Local((nint)_local),
                Dest = GrantCopyPointer.Foreign(gref, GuestDomId, 0),
                Length = (ushort)Size,
                Flags = GrantCopySegment.DestGref,
            };
        }
        _copier.Copy(_segments);
        foreach (var s in _segments)
        {
            if (s.Status != GrantStatus.Okay)
                throw new InvalidOperationException($"set-up copy failed with GNTST {s.Status}");
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _ring?.Dispose();
        _platform?.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _guest?.Dispose();
        NativeMemory.AlignedFree(_local);
        Directory.Delete(_rootPath, recursive: true);
    }

    [Benchmark(Description = "copy batch of 64 to a sim guest")]
    public short CopyBatch()
    {
        _copier!.Copy(_segments);
        return _segments[Batch - 1].Status;
    }

    private sealed class ThroughputConfig : ManualConfig
    {
        public ThroughputConfig() => AddColumn(new GigabytesPerSecondColumn());
    }

    private sealed class GigabytesPerSecondColumn : IColumn
    {
        public string Id => nameof(GigabytesPerSecondColumn);
        public string ColumnName => "GB/s";
        public bool AlwaysShow => true;
        public ColumnCategory Category => ColumnCategory.Custom;
        public int PriorityInCategory => 0;
        public bool IsNumeric => true;
        public UnitType UnitType => UnitType.Dimensionless;
        public string Legend => "copied bytes per second of one batch (64 × Size), 10^9 bytes";

        public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;

        public bool IsAvailable(Summary summary) => true;

        public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, SummaryStyle.Default);

        public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
        {
            var statistics = summary[benchmarkCase]?.ResultStatistics;
            if (statistics is null || statistics.Mean <= 0)
                return "NA";
            var size = Convert.ToDouble(benchmarkCase.Parameters["Size"], CultureInfo.InvariantCulture);
            // Mean is in nanoseconds, so bytes per nanosecond is GB/s.
            return (Batch * size / statistics.Mean).ToString("0.00", CultureInfo.InvariantCulture);
        }
    }
}
