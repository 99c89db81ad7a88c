namespace Backend.Host.Soak;

/// <summary>p50, p99 and max of a set of samples.</summary>
internal sealed record SoakPercentiles(int Count, double P50, double P99, double Max)
{
    public static SoakPercentiles? Of(List<double> samples)
    {
        if (samples.Count == 0)
            return null;
        samples.Sort();
        return new SoakPercentiles(samples.Count, samples[(int)(samples.Count * 0.50)], samples[Math.Min(samples.Count - 1, (int)(samples.Count * 0.99))], samples[^1]);
    }
}
