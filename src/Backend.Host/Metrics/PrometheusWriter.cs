using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text;

namespace Backend.Host.Metrics;

/// <summary>
/// <c>GET /metrics</c>: the instruments of one <see cref="Meter"/> in Prometheus text exposition format
/// (0.0.4), read through a <see cref="MeterListener"/> at each scrape, so that <c>/metrics</c> and every
/// other reader of the meter (dotnet-counters, an OpenTelemetry SDK) show the same figures under the same
/// names. An instrument's name is its metric name, its description the HELP line; an observable counter
/// is a Prometheus counter, every other instrument a gauge.
/// <para>
/// Why not OpenTelemetry's Prometheus exporter (docs/decisions.md): with cumulative temporality it keeps
/// every label set it ever saw and, past 2000 per metric, folds new ones into an
/// <c>otel_metric_overflow</c> series, so a host whose guests come and go (new domids) loses its per-vif
/// series after a while; it also adds <c>otel_scope_name</c> to every series and a <c>target_info</c>
/// metric. Here a series is exactly what the instrument's callback reports now: a vif that is gone is
/// gone from the next scrape.
/// </para>
/// </summary>
public sealed class PrometheusWriter : IDisposable
{
    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    private readonly MeterListener _listener;
    private readonly Lock _lock = new();
    private readonly List<Series> _instruments = [];

    public PrometheusWriter(Meter meter)
    {
        _listener = new MeterListener
        {
            InstrumentPublished = (instrument, listener) =>
            {
                if (!ReferenceEquals(instrument.Meter, meter))
                    return;
                var series = new Series(instrument);
                lock (_lock)
                    _instruments.Add(series);
                listener.EnableMeasurementEvents(instrument, series);
            },
        };
        _listener.SetMeasurementEventCallback<long>(static (_, value, tags, state) => ((Series)state!).Add(value, tags));
        _listener.Start();
    }

    /// <summary>Collects every instrument now and writes the exposition.</summary>
    public string Write()
    {
        lock (_lock)
        {
            foreach (var series in _instruments)
                series.Samples.Clear();
            // Invokes the observable instruments' callbacks on this thread; their measurements reach
            // this listener only (another listener's collection does not show here).
            _listener.RecordObservableInstruments();
            var sb = new StringBuilder();
            foreach (var series in _instruments)
                series.WriteTo(sb);
            return sb.ToString();
        }
    }

    public void Dispose() => _listener.Dispose();

    /// <summary>One instrument and the samples of the collection under way.</summary>
    private sealed class Series(Instrument instrument)
    {
        public List<(long Value, KeyValuePair<string, object?>[] Tags)> Samples { get; } = [];

        public void Add(long value, ReadOnlySpan<KeyValuePair<string, object?>> tags) => Samples.Add((value, tags.ToArray()));

        public void WriteTo(StringBuilder sb)
        {
            var name = instrument.Name;
            var type = instrument is ObservableCounter<long> or Counter<long> ? "counter" : "gauge";
            sb.Append("# HELP ").Append(name).Append(' ');
            AppendEscaped(sb, instrument.Description ?? "", quote: false);
            sb.Append("\n# TYPE ").Append(name).Append(' ').Append(type).Append('\n');
            foreach (var (value, tags) in Samples)
            {
                sb.Append(name);
                if (tags.Length > 0)
                {
                    sb.Append('{');
                    for (var i = 0; i < tags.Length; i++)
                    {
                        if (i > 0)
                            sb.Append(',');
                        sb.Append(tags[i].Key).Append("=\"");
                        AppendEscaped(sb, Convert.ToString(tags[i].Value, CultureInfo.InvariantCulture) ?? "", quote: true);
                        sb.Append('"');
                    }
                    sb.Append('}');
                }
                sb.Append(' ').Append(value.ToString(CultureInfo.InvariantCulture)).Append('\n');
            }
        }

        /// <summary>The format's escapes: backslash and line feed, and in a label value the double quote.</summary>
        private static void AppendEscaped(StringBuilder sb, string text, bool quote)
        {
            foreach (var c in text)
            {
                switch (c)
                {
                    case '\\': sb.Append(@"\\"); break;
                    case '\n': sb.Append(@"\n"); break;
                    case '"' when quote: sb.Append("\\\""); break;
                    default: sb.Append(c); break;
                }
            }
        }
    }
}
