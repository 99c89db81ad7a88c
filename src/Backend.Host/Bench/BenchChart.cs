using System.Globalization;
using System.Text;

namespace Backend.Host.Bench;

/// <summary>
/// The chart of docs/performance.md as SVG: windowed-stream frames/s (log scale) against frame size,
/// one line per backend and pair count.
/// </summary>
internal static class BenchChart
{
    private const int Width = 720;
    private const int Height = 420;
    private const int Left = 80;
    private const int Right = 200;
    private const int Top = 40;
    private const int Bottom = 60;

    public static string Svg(BenchReport report)
    {
        var c = CultureInfo.InvariantCulture;
        var windowed = report.Results.Where(r => r.Workload == "windowed" && r.FramesPerSecond > 0).ToList();
        var sizes = windowed.Select(r => r.Size).Distinct().Order().ToList();
        var svg = new StringBuilder();
        svg.AppendLine(c, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{Width}\" height=\"{Height}\" font-family=\"sans-serif\" font-size=\"12\">");
        svg.AppendLine(c, $"<rect width=\"{Width}\" height=\"{Height}\" fill=\"white\"/>");
        svg.AppendLine(c, $"<text x=\"{Width / 2}\" y=\"22\" text-anchor=\"middle\" font-size=\"14\">Windowed stream: frames/s by frame size (daemon and cback, same run)</text>");
        if (sizes.Count == 0 || windowed.Count == 0)
        {
            svg.AppendLine("<text x=\"100\" y=\"200\">no windowed results</text></svg>");
            return svg.ToString();
        }
        var min = Math.Pow(10, Math.Floor(Math.Log10(windowed.Min(r => r.FramesPerSecond))));
        var max = Math.Pow(10, Math.Ceiling(Math.Log10(windowed.Max(r => r.FramesPerSecond))));
        if (max <= min)
            max = min * 10;
        var plotW = Width - Left - Right;
        var plotH = Height - Top - Bottom;
        double X(int size) => Left + (sizes.Count == 1 ? plotW / 2.0 : plotW * sizes.IndexOf(size) / (double)(sizes.Count - 1));
        double Y(double v) => Top + plotH * (1 - (Math.Log10(v) - Math.Log10(min)) / (Math.Log10(max) - Math.Log10(min)));
        svg.AppendLine(c, $"<rect x=\"{Left}\" y=\"{Top}\" width=\"{plotW}\" height=\"{plotH}\" fill=\"none\" stroke=\"#888\"/>");
        for (var v = min; v <= max * 1.0001; v *= 10)
        {
            svg.AppendLine(c, $"<line x1=\"{Left}\" x2=\"{Left + plotW}\" y1=\"{Y(v):F1}\" y2=\"{Y(v):F1}\" stroke=\"#ddd\"/>");
            svg.AppendLine(c, $"<text x=\"{Left - 6}\" y=\"{Y(v) + 4:F1}\" text-anchor=\"end\">{v:0.#E+0}</text>");
        }
        foreach (var size in sizes)
            svg.AppendLine(c, $"<text x=\"{X(size):F1}\" y=\"{Top + plotH + 18}\" text-anchor=\"middle\">{(size == BenchFrame.GsoFrameLength ? "65535 (GSO)" : size.ToString(c))}</text>");
        svg.AppendLine(c, $"<text x=\"{Left + plotW / 2}\" y=\"{Height - 15}\" text-anchor=\"middle\">frame size, bytes</text>");
        svg.AppendLine(c, $"<text x=\"18\" y=\"{Top + plotH / 2}\" text-anchor=\"middle\" transform=\"rotate(-90 18 {Top + plotH / 2})\">frames/s (log)</text>");
        string[] colours = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e"];
        var series = windowed.GroupBy(r => (r.Backend, r.Pairs)).OrderBy(g => g.Key.Pairs).ThenBy(g => g.Key.Backend).ToList();
        for (var i = 0; i < series.Count; i++)
        {
            var colour = colours[i % colours.Length];
            var dash = series[i].Key.Backend == "cback" ? " stroke-dasharray=\"6 4\"" : "";
            var points = string.Join(' ', series[i].OrderBy(r => r.Size).Select(r => string.Create(c, $"{X(r.Size):F1},{Y(r.FramesPerSecond):F1}")));
            svg.AppendLine(c, $"<polyline points=\"{points}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\"{dash}/>");
            foreach (var r in series[i])
                svg.AppendLine(c, $"<circle cx=\"{X(r.Size):F1}\" cy=\"{Y(r.FramesPerSecond):F1}\" r=\"3\" fill=\"{colour}\"/>");
            var ly = Top + 20 + i * 20;
            svg.AppendLine(c, $"<line x1=\"{Left + plotW + 15}\" x2=\"{Left + plotW + 45}\" y1=\"{ly}\" y2=\"{ly}\" stroke=\"{colour}\" stroke-width=\"2\"{dash}/>");
            svg.AppendLine(c, $"<text x=\"{Left + plotW + 50}\" y=\"{ly + 4}\">{series[i].Key.Backend}, {series[i].Key.Pairs} pair{(series[i].Key.Pairs == 1 ? "" : "s")}</text>");
        }
        svg.AppendLine("</svg>");
        return svg.ToString();
    }
}
