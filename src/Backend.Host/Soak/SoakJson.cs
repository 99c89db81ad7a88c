using System.Text.Json;

namespace Backend.Host.Soak;

/// <summary>How report.json is written.</summary>
internal static class SoakJson
{
    public static readonly JsonSerializerOptions Indented = new(JsonSerializerDefaults.Web) { WriteIndented = true };
}
