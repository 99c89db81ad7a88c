using System.Text.Json;
using System.Text.Json.Serialization;

namespace Backend.Host.Bench;

/// <summary>The bench's JSON form: camelCase, nulls left out, indented only for the report file.</summary>
internal static class BenchJson
{
    public static readonly JsonSerializerOptions Line = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    public static readonly JsonSerializerOptions Indented = new(Line) { WriteIndented = true };
}
