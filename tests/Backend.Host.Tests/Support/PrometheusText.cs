using System.Globalization;
using System.Text;

namespace Backend.Host.Tests.Support;

/// <summary>
/// A Prometheus text exposition read back, as a scraper would: every sample with its name, labels and
/// value, and the HELP and TYPE lines by name. Strict: a line it cannot read fails the test.
/// </summary>
public sealed class PrometheusText
{
    public sealed record Sample(string Name, IReadOnlyDictionary<string, string> Labels, long Value)
    {
        /// <summary>The series' identity, labels sorted: <c>name{a="1",b="2"}</c>.</summary>
        public string Series => Key(Name, Labels);
    }

    private PrometheusText(List<Sample> samples, Dictionary<string, string> help, Dictionary<string, string> types)
    {
        Samples = samples;
        Help = help;
        Types = types;
    }

    public IReadOnlyList<Sample> Samples { get; }

    public IReadOnlyDictionary<string, string> Help { get; }

    public IReadOnlyDictionary<string, string> Types { get; }

    public static string Key(string name, IReadOnlyDictionary<string, string> labels) =>
        name + "{" + string.Join(',', labels.OrderBy(l => l.Key, StringComparer.Ordinal).Select(l => $"{l.Key}=\"{l.Value}\"")) + "}";

    public long Value(string series) =>
        Samples.SingleOrDefault(s => s.Series == series)?.Value ?? throw new KeyNotFoundException($"no series {series} in the exposition");

    public static PrometheusText Parse(string text)
    {
        var samples = new List<Sample>();
        var help = new Dictionary<string, string>(StringComparer.Ordinal);
        var types = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in text.Split('\n'))
        {
            if (line.Length == 0)
                continue;
            if (line.StartsWith("# HELP ", StringComparison.Ordinal))
            {
                var rest = line["# HELP ".Length..];
                var space = rest.IndexOf(' ', StringComparison.Ordinal);
                help[rest[..space]] = rest[(space + 1)..];
                continue;
            }
            if (line.StartsWith("# TYPE ", StringComparison.Ordinal))
            {
                var parts = line.Split(' ');
                types[parts[2]] = parts[3];
                continue;
            }
            samples.Add(ParseSample(line));
        }
        return new PrometheusText(samples, help, types);
    }

    private static Sample ParseSample(string line)
    {
        var labels = new Dictionary<string, string>(StringComparer.Ordinal);
        var brace = line.IndexOf('{', StringComparison.Ordinal);
        string name;
        int i;
        if (brace < 0)
        {
            i = line.IndexOf(' ', StringComparison.Ordinal);
            name = line[..i];
        }
        else
        {
            name = line[..brace];
            i = brace + 1;
            while (line[i] != '}')
            {
                var eq = line.IndexOf("=\"", i, StringComparison.Ordinal);
                var key = line[i..eq];
                var value = new StringBuilder();
                var j = eq + 2;
                for (; line[j] != '"'; j++)
                {
                    if (line[j] == '\\')
                    {
                        j++;
                        value.Append(line[j] switch { 'n' => '\n', var c => c });
                    }
                    else
                        value.Append(line[j]);
                }
                labels[key] = value.ToString();
                i = j + 1;
                if (line[i] == ',')
                    i++;
            }
            i++;
        }
        Assert.True(line[i] == ' ', $"no space before the value in: {line}");
        return new Sample(name, labels, long.Parse(line[(i + 1)..], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture));
    }
}
